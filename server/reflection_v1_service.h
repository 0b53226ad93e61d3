// grpc.reflection.v1.ServerReflection, which gRPC 1.51 does not ship (it
// offers only v1alpha, which sequencer_server.cc also registers; current
// grpcurl asks v1 first and falls back to v1alpha).
//
// Answers from the process's generated descriptor pool
// (google::protobuf::DescriptorPool::generated_pool()), so it describes exactly
// the protos linked into the binary:
//   - list_services: the names given to the constructor;
//   - file_by_filename, file_containing_symbol, file_containing_extension: the
//     file, then every file it depends on transitively (each once per
//     response), serialized FileDescriptorProtos, as grpcurl expects;
//   - all_extension_numbers_of_type: the extension numbers known for a message.
// Unknown files, symbols, types or extensions answer an error_response with
// NOT_FOUND; a request asking nothing answers INVALID_ARGUMENT. Errors are
// per message: the stream stays open. Every response echoes valid_host and the
// original request.
//
// Thread-safety: the service is immutable after construction; each stream is
// served by its own reactor. The service must outlive the grpc::Server it is
// registered with.

#ifndef SEQUENCER_SERVER_REFLECTION_V1_SERVICE_H_
#define SEQUENCER_SERVER_REFLECTION_V1_SERVICE_H_

#include <string>
#include <vector>

#include "grpc/reflection/v1/reflection.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace sequencer::server {

class ReflectionV1Service final
    : public grpc::reflection::v1::ServerReflection::CallbackService {
 public:
  // `services`: the fully qualified names of the services the server offers
  // (list_services answers them in this order).
  explicit ReflectionV1Service(std::vector<std::string> services);

  grpc::ServerBidiReactor<grpc::reflection::v1::ServerReflectionRequest,
                          grpc::reflection::v1::ServerReflectionResponse>*
  ServerReflectionInfo(grpc::CallbackServerContext* context) override;

  // The answer to one request (exposed for the reactor).
  grpc::reflection::v1::ServerReflectionResponse Answer(
      const grpc::reflection::v1::ServerReflectionRequest& request) const;

 private:
  const std::vector<std::string> services_;
};

}  // namespace sequencer::server

#endif  // SEQUENCER_SERVER_REFLECTION_V1_SERVICE_H_
