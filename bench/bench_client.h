// What the benchmarks' gRPC clients share: the bench tenant's call metadata,
// failing hard on an unexpected status, and the one-step sequence most of
// them enroll into. Header-only; for bench/ programs only.

#ifndef SEQUENCER_BENCH_BENCH_CLIENT_H_
#define SEQUENCER_BENCH_BENCH_CLIENT_H_

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "app/storage/event_codec.h"
#include "grpcpp/grpcpp.h"
#include "sequencer/v1/sequencer.grpc.pb.h"

namespace sequencer::bench {

// The tenant and actor every bench call names (development mode).
inline void AddBenchMetadata(grpc::ClientContext* context) {
  context->AddMetadata("x-tenant-id", "bench");
  context->AddMetadata("x-actor", "bench");
}

inline std::unique_ptr<grpc::ClientContext> BenchContext() {
  auto context = std::make_unique<grpc::ClientContext>();
  AddBenchMetadata(context.get());
  return context;
}

// Exits 1 with "<what>: <message>" unless `status` is OK.
inline void Check(const grpc::Status& status, const char* what) {
  if (!status.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, status.error_message().c_str());
    std::exit(1);
  }
}

// Creates sequence `id`: one automatic email step after `delay`.
inline void CreateBenchSequence(v1::SequenceService::Stub& sequences,
                                const std::string& id = "seq",
                                absl::Duration delay = absl::Hours(1)) {
  v1::CreateSequenceRequest request;
  request.set_request_id("create-" + id);
  request.set_sequence_id(id);
  request.set_name("bench");
  v1::StepDefinition* step = request.add_steps();
  step->set_type(v1::STEP_TYPE_EMAIL);
  *step->mutable_delay() = app::ToProtoDuration(delay);
  step->mutable_content()->set_subject("Hi");
  step->mutable_content()->set_body("Body");
  v1::CreateSequenceResponse response;
  Check(sequences.CreateSequence(BenchContext().get(), request, &response),
        "CreateSequence");
}

}  // namespace sequencer::bench

#endif  // SEQUENCER_BENCH_BENCH_CLIENT_H_
