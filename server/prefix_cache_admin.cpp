// The DropPrefixCache RPC: the engine forgets its idle cached prefix blocks at its next step
// boundary, and the call is answered from the engine thread then, with the count, so that a
// request sent after the answer can never find a block the drop forgot.
#include "server/generation_service.h"
#include "server/logging.h"

namespace ribbon::server {

grpc::ServerUnaryReactor* GenerationService::DropPrefixCache(
    grpc::CallbackServerContext* context, const ribbon::v1::DropPrefixCacheRequest*,
    ribbon::v1::DropPrefixCacheResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (grpc::Status admitted = Admit(context, false); !admitted.ok()) {
    reactor->Finish(admitted);
    return reactor;
  }
  Engine* engine = backend_.load()->engine;
  // Runs on the engine thread (or here, when the engine has stopped): fills the response and
  // finishes the call; neither blocks. The reactor and response live until Finish.
  engine->DropPrefixCache([engine, reactor, response](int32_t dropped) {
    const int32_t still_cached = engine->Stats().prefix_cached_blocks;
    response->set_blocks_dropped(static_cast<uint32_t>(dropped));
    response->set_blocks_still_cached(static_cast<uint32_t>(still_cached));
    LogEvent(spdlog::level::info, "prefix_cache_dropped",
             {{"blocks_dropped", dropped}, {"blocks_still_cached", still_cached}});
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

}  // namespace ribbon::server
