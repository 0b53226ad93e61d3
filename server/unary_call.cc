#include "server/unary_call.h"

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "google/protobuf/unknown_field_set.h"
#include "grpc/support/time.h"

namespace sequencer::server {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::UnknownField;
using google::protobuf::UnknownFieldSet;

bool IsValidUtf8(absl::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char lead = static_cast<unsigned char>(text[i]);
    size_t extra = 0;
    uint32_t code = 0;
    uint32_t min = 0;
    if (lead < 0x80) {
      ++i;
      continue;
    } else if ((lead & 0xe0) == 0xc0) {
      extra = 1, code = lead & 0x1f, min = 0x80;
    } else if ((lead & 0xf0) == 0xe0) {
      extra = 2, code = lead & 0x0f, min = 0x800;
    } else if ((lead & 0xf8) == 0xf0) {
      extra = 3, code = lead & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (i + extra >= text.size()) return false;  // cut short
    for (size_t k = 1; k <= extra; ++k) {
      const unsigned char next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xc0) != 0x80) return false;
      code = (code << 6) | (next & 0x3f);
    }
    if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

// The first reason found under `path`, or "" when these bytes look fine.
std::string Diagnose(absl::string_view bytes, const Descriptor* type,
                     const std::string& path) {
  UnknownFieldSet fields;
  if (!fields.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    if (path.empty()) return "not valid protobuf";
    return absl::StrCat("field ", path, " is not a valid ", type->full_name());
  }
  std::map<int, int> occurrences;
  for (int i = 0; i < fields.field_count(); ++i) {
    const UnknownField& field = fields.field(i);
    if (field.type() != UnknownField::TYPE_LENGTH_DELIMITED) continue;
    const FieldDescriptor* descriptor = type->FindFieldByNumber(field.number());
    if (descriptor == nullptr) continue;
    std::string name = path.empty()
                           ? descriptor->name()
                           : absl::StrCat(path, ".", descriptor->name());
    if (descriptor->is_repeated() && !descriptor->is_map()) {
      absl::StrAppend(&name, "[", occurrences[field.number()]++, "]");
    }
    if (descriptor->type() == FieldDescriptor::TYPE_STRING &&
        !IsValidUtf8(field.length_delimited())) {
      return absl::StrCat("field ", name, " holds invalid UTF-8");
    }
    if (descriptor->type() == FieldDescriptor::TYPE_MESSAGE) {
      std::string why =
          Diagnose(field.length_delimited(), descriptor->message_type(), name);
      if (!why.empty()) return why;
    }
  }
  return "";
}

thread_local const Admission* current_admission = nullptr;

}  // namespace

const Admission* CurrentAdmission() { return current_admission; }

AdmissionScope::AdmissionScope(const Admission* admission)
    : previous_(current_admission) {
  current_admission = admission;
}

AdmissionScope::~AdmissionScope() { current_admission = previous_; }

absl::Time DeadlineOf(const grpc::CallbackServerContext& context) {
  const gpr_timespec raw =
      gpr_convert_clock_type(context.raw_deadline(), GPR_CLOCK_REALTIME);
  if (raw.tv_sec == INT64_MAX) return absl::InfiniteFuture();
  return absl::FromUnixSeconds(raw.tv_sec) + absl::Nanoseconds(raw.tv_nsec);
}

namespace {
std::atomic<bool> hold_long_reads{false};
}  // namespace

void HoldLongReadsForTesting(bool hold) { hold_long_reads.store(hold); }

app::StopCheck StopCheckOf(grpc::CallbackServerContext* context) {
  const absl::Time deadline = DeadlineOf(*context);
  return [context, deadline]() {
    const bool finite = deadline != absl::InfiniteFuture();
    if (finite && hold_long_reads.load(std::memory_order_relaxed)) {
      const absl::Duration left = deadline - absl::Now();
      if (left > absl::ZeroDuration()) {
        absl::SleepFor(left + absl::Milliseconds(1));
      }
    }
    return context->IsCancelled() || (finite && absl::Now() >= deadline);
  };
}

absl::StatusOr<CallContext> AdmittedCallContext() {
  if (current_admission == nullptr) {
    return absl::UnauthenticatedError("the call was not admitted");
  }
  return current_admission->call;
}

std::string WhyUndecodable(const grpc::ByteBuffer& bytes,
                           const Descriptor* type) {
  std::vector<grpc::Slice> slices;
  std::string flat;
  if (bytes.Dump(&slices).ok()) {
    for (const grpc::Slice& slice : slices) {
      flat.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
  }
  std::string why = Diagnose(flat, type, "");
  if (!why.empty()) return why;
  return absl::StrCat("the bytes are not a valid ", type->full_name());
}

}  // namespace sequencer::server
