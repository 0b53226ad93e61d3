// Stored-event decoding: the bytes of a log entry, as the repository reads them
// (v1::Event, then the codec into a domain event). Whatever the bytes, decoding
// answers an error or an event, and an event that decodes re-encodes to a form
// that decodes to the same event again (the codec loses nothing it accepted).

#include <cstddef>
#include <cstdint>
#include <string>

#include "app/storage/event_codec.h"
#include "google/protobuf/stubs/logging.h"
#include "google/protobuf/util/message_differencer.h"
#include "sequencer/v1/events.pb.h"

namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::sequencer::app::EventTypeName;
using ::sequencer::app::RecipientEventFromProto;
using ::sequencer::app::SequenceEventFromProto;
using ::sequencer::app::ToProto;

// Decoding `encoded` again gives an event that encodes to `encoded`.
template <typename Decode>
void CheckStable(const sequencer::v1::Event& encoded, Decode decode) {
  std::string bytes;
  if (!encoded.SerializeToString(&bytes)) __builtin_trap();
  sequencer::v1::Event reparsed;
  if (!reparsed.ParseFromString(bytes)) __builtin_trap();
  auto again = decode(reparsed);
  if (!again.ok()) __builtin_trap();
  if (!MessageDifferencer::Equals(ToProto(*again), encoded)) __builtin_trap();
  EventTypeName(encoded);
}

}  // namespace

// Invalid UTF-8 in string fields is an expected parse failure, not news.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sequencer::v1::Event event;
  if (!event.ParseFromArray(data, static_cast<int>(size))) return 0;
  EventTypeName(event);
  if (auto sequence_event = SequenceEventFromProto(event);
      sequence_event.ok()) {
    CheckStable(ToProto(*sequence_event), SequenceEventFromProto);
  }
  if (auto recipient_event = RecipientEventFromProto(event);
      recipient_event.ok()) {
    CheckStable(ToProto(*recipient_event), RecipientEventFromProto);
  }
  return 0;
}
