// A fixed set of threads that run posted tasks in order of posting. Device
// streams use it for what may block (database calls) so that gRPC's
// callback threads never wait on PostgreSQL.
//
//   WorkQueue queue(/*threads=*/4);
//   queue.Post([] { ...blocking work... });
//
// The destructor runs every task already posted, then joins the threads.
#ifndef OTA_SERVER_NOTIFY_WORK_QUEUE_H_
#define OTA_SERVER_NOTIFY_WORK_QUEUE_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace ota::server {

class WorkQueue {
 public:
  explicit WorkQueue(int threads);
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Queues `task` to run on one of the threads.
  void Post(std::function<void()> task);

  // Tasks posted and not yet started.
  size_t backlog() const;

 private:
  void Run();

  mutable absl::Mutex mu_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace ota::server

#endif  // OTA_SERVER_NOTIFY_WORK_QUEUE_H_
