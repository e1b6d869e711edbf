// The bodies of StoreExecutor's templates; included at the end of store_executor.hpp. The
// rest of the executor (the thread, the batching) is in store_executor.cpp.
#pragma once

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>

#include <future>
#include <optional>
#include <stdexcept>

namespace connector::core::detail {

// What a job produced on the store thread: its value (none for void) or its exception.
template <typename Result> struct JobOutcome {
  std::optional<Result> value;
  std::exception_ptr error;
};
template <> struct JobOutcome<void> { std::exception_ptr error; };

// The completion signature of run(): void results carry the exception alone.
template <typename Result> struct RunSignature { using type = void(std::exception_ptr, Result); };
template <> struct RunSignature<void> { using type = void(std::exception_ptr); };

template <typename Result> void check_job_result() {
  static_assert(!std::is_reference_v<Result>, "a store job returns values, not references into the store");
  static_assert(std::is_void_v<Result> || std::is_default_constructible_v<Result>,
                "run() completes with (exception_ptr, Result), which needs a Result even for an error");
}

// One queued job: runs on the store thread, then answers its caller with `answer(outcome)`.
template <typename Job, typename Answer> class QueuedJob {
public:
  using Result = std::invoke_result_t<Job&, Store&>;

  QueuedJob(Job job, Answer answer) : job_(std::move(job)), answer_(std::move(answer)) {}

  // False when the job threw: its exception is kept for its caller.
  bool execute(Store& store) noexcept {
    outcome_ = {}; // a batch run again runs its jobs again: only the last run counts
    try {
      if constexpr (std::is_void_v<Result>) {
        job_(store);
      } else {
        outcome_.value.emplace(job_(store));
      }
      return true;
    } catch (...) {
      outcome_.error = std::current_exception();
      return false;
    }
  }

  // The job's own exception wins; otherwise the batch's (its writes were not committed).
  void complete(const std::exception_ptr& batch_error) {
    if (!outcome_.error) outcome_.error = batch_error;
    answer_(std::move(outcome_));
  }

private:
  Job job_;
  Answer answer_;
  JobOutcome<Result> outcome_;
};

// Wraps a job and its answer into the executor's two-part Work (execute, complete).
template <typename Work, typename Job, typename Answer> Work make_work(Job job, Answer answer) {
  auto queued = std::make_shared<QueuedJob<Job, Answer>>(std::move(job), std::move(answer));
  return Work{[queued](Store& store) { return queued->execute(store); },
              [queued](const std::exception_ptr& batch_error) { queued->complete(batch_error); }};
}

// The answer for run(): hands the outcome to the coroutine's handler on the handler's own
// executor, so the coroutine resumes where it was (its strand, its thread), never on the
// store thread. The work guard keeps the caller's io_context running while the job waits.
template <typename Result, typename Handler> auto resume_on_caller_executor(Handler handler) {
  auto caller_work = boost::asio::make_work_guard(handler);
  return [handler = std::move(handler), caller_work = std::move(caller_work)](JobOutcome<Result>&& outcome) mutable {
    auto resume = [handler = std::move(handler), outcome = std::move(outcome)]() mutable {
      if constexpr (std::is_void_v<Result>) {
        std::move(handler)(outcome.error);
      } else if (outcome.error) {
        std::move(handler)(outcome.error, Result{});
      } else {
        std::move(handler)(std::exception_ptr(), std::move(*outcome.value));
      }
    };
    boost::asio::post(caller_work.get_executor(), std::move(resume));
    caller_work.reset(); // the posted resumption now keeps the io_context running
  };
}

// The answer for run_sync(): fulfils the promise the caller is blocked on.
template <typename Result> auto fulfil(std::promise<Result> promise) {
  return [promise = std::move(promise)](JobOutcome<Result>&& outcome) mutable {
    if (outcome.error) {
      promise.set_exception(std::move(outcome.error));
    } else if constexpr (std::is_void_v<Result>) {
      promise.set_value();
    } else {
      promise.set_value(std::move(*outcome.value));
    }
  };
}

} // namespace connector::core::detail

namespace connector::core {

template <typename Job>
boost::asio::awaitable<std::invoke_result_t<Job&, Store&>> StoreExecutor::run(Job job, JobUndo undo) {
  using Result = std::invoke_result_t<Job&, Store&>;
  detail::check_job_result<Result>();
  auto initiate = [this, undo](auto handler, Job queued) {
    Work work =
        detail::make_work<Work>(std::move(queued), detail::resume_on_caller_executor<Result>(std::move(handler)));
    work.undo = undo;
    enqueue(std::move(work));
  };
  // Not a coroutine itself: async_initiate already returns the awaitable. (g++ 12 destroys a
  // by-value coroutine parameter twice when the caller passes a temporary lambda.)
  return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>, typename detail::RunSignature<Result>::type>(
      std::move(initiate), boost::asio::use_awaitable, std::move(job));
}

template <typename Job> std::invoke_result_t<Job&, Store&> StoreExecutor::run_sync(Job job) {
  using Result = std::invoke_result_t<Job&, Store&>;
  detail::check_job_result<Result>();
  // The store thread waiting for itself would never wake.
  if (std::this_thread::get_id() == thread_.get_id()) throw std::logic_error("run_sync called from a store job");
  std::promise<Result> promise;
  std::future<Result> result = promise.get_future();
  enqueue(detail::make_work<Work>(std::move(job), detail::fulfil(std::move(promise))));
  return result.get();
}

} // namespace connector::core
