#include "server/write_queue.h"

namespace ribbon::server {

const char* WriteStateName(WriteState state) {
  switch (state) {
    case WriteState::kIdle:
      return "idle";
    case WriteState::kWriting:
      return "writing";
    case WriteState::kClosing:
      return "closing";
    case WriteState::kFinished:
      return "finished";
  }
  return "unknown";
}

bool WriteTransitionAllowed(WriteState from, WriteState to) {
  switch (from) {
    case WriteState::kIdle:
      return to == WriteState::kWriting || to == WriteState::kClosing ||
             to == WriteState::kFinished;
    case WriteState::kWriting:
      return to == WriteState::kIdle || to == WriteState::kClosing || to == WriteState::kFinished;
    case WriteState::kClosing:
      return to == WriteState::kFinished;
    case WriteState::kFinished:
      return false;
  }
  return false;
}

}  // namespace ribbon::server
