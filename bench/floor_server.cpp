// bench_floor: the benchmark's floor. A minimal Boost.Beast HTTP/1.1 server that answers every
// request with one fixed JSON body and does nothing else, so that "host / floor" shows how
// much of the host's time is its own work rather than what HTTP costs on this machine.
//
//   bench_floor [--listen 127.0.0.1:0] [--threads 2] [--body-bytes 160]
//
// Prints one line, {"port":N}, on stdout when it accepts; stops on SIGINT/SIGTERM.
// bench/run.sh gives --threads the host's default (2 per core): the same I/O budget.
// --body-bytes should be the size of the host's authorize answer (bench/run.sh measures it).
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

struct Options {
  std::string address = "127.0.0.1";
  unsigned short port = 0;
  int threads = 2;
  std::size_t body_bytes = 160;
};

[[noreturn]] void usage(const std::string& problem) {
  std::cerr << "bench_floor: " << problem << "\n"
            << "usage: bench_floor [--listen HOST:PORT] [--threads N] [--body-bytes N]\n";
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) usage(flag + " needs a value");
    const std::string value = argv[++i];
    if (flag == "--listen") {
      const auto colon = value.rfind(':');
      if (colon == std::string::npos) usage("--listen wants HOST:PORT");
      options.address = value.substr(0, colon);
      options.port = static_cast<unsigned short>(std::stoul(value.substr(colon + 1)));
    } else if (flag == "--threads") {
      options.threads = std::stoi(value);
      if (options.threads < 1) usage("--threads must be at least 1");
    } else if (flag == "--body-bytes") {
      options.body_bytes = std::stoul(value);
    } else {
      usage("unknown option " + flag);
    }
  }
  return options;
}

// A JSON object shaped like the host's authorize answer, padded to exactly `size` bytes
// (or the smallest such object when size is smaller).
std::string fixed_body(std::size_t size) {
  const std::string head = R"({"authorization_url":"https://github.com/login/oauth/authorize?)";
  const std::string tail = R"(","connection_id":"conn_00000000000000000000000000000000"})";
  const std::size_t fixed = head.size() + tail.size();
  return head + std::string(size > fixed ? size - fixed : 0, 'x') + tail;
}

asio::awaitable<void> serve(tcp::socket socket, std::shared_ptr<const std::string> body) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    http::request<http::string_body> request;
    if (auto [error, read] = co_await http::async_read(stream, buffer, request, use_tuple); error) break;
    http::response<http::string_body> response(http::status::ok, request.version());
    response.set(http::field::content_type, "application/json");
    response.keep_alive(request.keep_alive());
    response.body() = *body;
    response.prepare_payload();
    if (auto [error, written] = co_await http::async_write(stream, response, use_tuple); error) break;
    if (!response.keep_alive()) break;
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

asio::awaitable<void> accept(tcp::acceptor& acceptor, std::vector<std::unique_ptr<asio::io_context>>& contexts,
                             std::shared_ptr<const std::string> body) {
  std::size_t next = 0;
  for (;;) {
    // Connections in turn to io_contexts of one thread each, as the host does, so both pay
    // the same dispatching (and neither a strand).
    auto [error, socket] = co_await acceptor.async_accept(*contexts[next++ % contexts.size()], use_tuple);
    if (error == asio::error::operation_aborted) co_return;
    if (error) continue;
    socket.set_option(tcp::no_delay(true));
    asio::co_spawn(socket.get_executor(), serve(std::move(socket), body), asio::detached);
  }
}

} // namespace

int main(int argc, char** argv) {
  const Options options = parse(argc, argv);
  auto body = std::make_shared<const std::string>(fixed_body(options.body_bytes));

  // The host's layout: the acceptor and signals on the main thread, connections on
  // `threads` io_contexts of one thread each.
  asio::io_context io(1);
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  for (int i = 0; i < options.threads; ++i)
    contexts.push_back(std::make_unique<asio::io_context>(1));
  tcp::acceptor acceptor(io, {asio::ip::make_address(options.address), options.port});
  std::cout << "{\"port\":" << acceptor.local_endpoint().port() << ",\"body_bytes\":" << body->size() << "}"
            << std::endl;

  asio::co_spawn(io, accept(acceptor, contexts, body), asio::detached);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) {
    io.stop();
    for (auto& context : contexts)
      context->stop();
  });

  std::vector<std::thread> workers;
  for (auto& context : contexts) {
    workers.emplace_back([&context] {
      const auto guard = asio::make_work_guard(*context);
      context->run();
    });
  }
  io.run();
  for (auto& worker : workers)
    worker.join();
  return 0;
}
