// <utility> before Asio: Asio's C++20 coroutine support uses std::exchange without including it.
#include <utility>

#include "server/openai/http_server.h"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <optional>

#include "absl/strings/str_cat.h"
#include "server/http_side_port.h"
#include "server/logging.h"

namespace ribbon::server::openai {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using Plain = beast::tcp_stream;
using Tls = beast::ssl_stream<beast::tcp_stream>;

constexpr auto kHeaderTimeout = std::chrono::seconds(60);
constexpr auto kShutdownTimeout = std::chrono::seconds(5);
constexpr int kSendBufferBytes = 64 << 10;
// An event stream's socket gets less (the kernel doubles it, to 32 KiB): a stream is small events
// at a few KiB/s, and every byte the kernel holds for a reader that has stopped is output its
// sequences went on decoding for before the slow-reader policy could see it pending
// (docs/perf/openai-stall-2026-12-04.md: ~120 KB, about 2 s of an n=3 stream, at 64 KiB).
constexpr int kStreamSendBufferBytes = 16 << 10;

std::string ErrorJson(const std::string& message, const char* type) {
  return absl::StrCat(R"({"error":{"message":")", message, R"(","type":")", type,
                      R"(","param":null,"code":null}})");
}

// One client connection. Template over the stream so that plain TCP and TLS share the code.
template <typename Stream>
class Connection final : public HttpConnection,
                         public std::enable_shared_from_this<Connection<Stream>> {
 public:
  Connection(Stream stream, HttpHandler* handler, int64_t max_body_bytes)
      : stream_(std::move(stream)), handler_(handler), max_body_bytes_(max_body_bytes) {}

  void Begin() {
    net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      if constexpr (std::is_same_v<Stream, Tls>) {
        beast::get_lowest_layer(self->stream_).expires_after(kHeaderTimeout);
        self->stream_.async_handshake(net::ssl::stream_base::server, [self](beast::error_code ec) {
          if (!ec) self->Read();
        });
      } else {
        self->Read();
      }
    });
  }

  void Respond(int status, std::string content_type, std::string body) override {
    Post([status, content_type = std::move(content_type),
          body = std::move(body)](Connection& self) mutable {
      self.WriteWhole(status, std::move(content_type), std::move(body));
    });
  }

  void StreamWrite(const std::string* data, std::function<void(bool)> done) override {
    Post([data, done = std::move(done)](Connection& self) mutable {
      if (self.closed_) return done(false);
      self.writing_ = true;
      self.SendHeaderThen([data, done = std::move(done)](Connection& self) mutable {
        net::async_write(
            self.stream_, http::make_chunk(net::buffer(*data)),
            [self = self.shared_from_this(), done = std::move(done)](beast::error_code ec, size_t) {
              self->writing_ = false;
              done(!ec && !self->closed_);
            });
      });
    });
  }

  void StreamEnd(int status, std::string tail, std::string body) override {
    Post([status, tail = std::move(tail), body = std::move(body)](Connection& self) mutable {
      if (self.closed_) return;
      if (!self.header_sent_) return self.WriteWhole(status, "application/json", std::move(body));
      // Ended while a write is stuck (a reader that stopped reading): nothing more can go out.
      if (self.writing_) return self.Close();
      self.tail_ = std::move(tail);
      auto finish = [](Connection& self) {
        net::async_write(self.stream_, http::make_chunk_last(),
                         [self = self.shared_from_this()](beast::error_code ec, size_t) {
                           self->AfterAnswer(ec);
                         });
      };
      if (self.tail_.empty()) return finish(self);
      net::async_write(self.stream_, http::make_chunk(net::buffer(self.tail_)),
                       [self = self.shared_from_this(), finish](beast::error_code ec, size_t) {
                         if (ec) return self->Close();
                         finish(*self);
                       });
    });
  }

  void WatchDisconnect(std::function<void()> gone) override {
    Post([gone = std::move(gone)](Connection& self) mutable {
      self.gone_ = std::move(gone);
      self.Watch();
    });
  }

 private:
  template <typename Fn>
  void Post(Fn fn) {
    net::post(stream_.get_executor(),
              [self = this->shared_from_this(), fn = std::move(fn)]() mutable { fn(*self); });
  }

  void Read() {
    parser_.emplace();
    parser_->body_limit(static_cast<uint64_t>(max_body_bytes_));
    beast::get_lowest_layer(stream_).expires_after(kHeaderTimeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    beast::get_lowest_layer(stream_).expires_never();
    if (ec == http::error::end_of_stream || ec == net::error::operation_aborted ||
        ec == beast::error::timeout || ec == net::error::eof) {
      return Close();
    }
    if (ec) {
      keep_alive_ = false;
      const bool too_big = ec == http::error::body_limit;
      return WriteWhole(
          too_big ? 413 : 400, "application/json",
          ErrorJson(too_big ? absl::StrCat("the request body is over ", max_body_bytes_,
                                           " bytes (openai.max_body_bytes)")
                            : absl::StrCat("malformed HTTP request: ", ec.message()),
                    "invalid_request_error"));
    }
    auto& message = parser_->get();
    keep_alive_ = message.keep_alive();
    header_sent_ = false;
    answered_ = false;
    HttpRequest request{.method = std::string(message.method_string()),
                        .target = std::string(message.target()),
                        .authorization = std::string(message[http::field::authorization]),
                        .body = std::move(message.body())};
    handler_->Handle(this->shared_from_this(), std::move(request));
  }

  void WriteWhole(int status, std::string content_type, std::string body) {
    if (closed_) return;
    auto response =
        std::make_shared<http::response<http::string_body>>(static_cast<http::status>(status), 11);
    response->set(http::field::server, "ribbond");
    response->set(http::field::content_type, content_type);
    response->keep_alive(keep_alive_);
    if (status == 429) response->set(http::field::retry_after, "1");
    response->body() = std::move(body);
    response->prepare_payload();
    header_sent_ = true;
    http::async_write(stream_, *response,
                      [self = this->shared_from_this(), response](beast::error_code ec, size_t) {
                        self->AfterAnswer(ec);
                      });
  }

  template <typename Then>
  void SendHeaderThen(Then then) {
    if (header_sent_) return then(*this);
    header_sent_ = true;
    beast::error_code ignored;
    beast::get_lowest_layer(stream_).socket().set_option(
        net::socket_base::send_buffer_size(kStreamSendBufferBytes), ignored);
    auto response = std::make_shared<http::response<http::empty_body>>(http::status::ok, 11);
    response->set(http::field::server, "ribbond");
    response->set(http::field::content_type, "text/event-stream");
    response->set(http::field::cache_control, "no-cache");
    response->keep_alive(keep_alive_);
    response->chunked(true);
    auto serializer = std::make_shared<http::response_serializer<http::empty_body>>(*response);
    http::async_write_header(
        stream_, *serializer,
        [self = this->shared_from_this(), response, serializer, then = std::move(then)](
            beast::error_code ec, size_t) mutable {
          if (ec) {
            self->Close();
            return then(*self);  // its write fails on the closed socket and reports it
          }
          then(*self);
        });
  }

  // The answer is out: the next request, or the end of the connection (after the disconnect
  // watch, if any, ends).
  void AfterAnswer(beast::error_code ec) {
    answered_ = true;
    gone_ = nullptr;
    if (ec) return Close();
    if (watching_) {
      beast::get_lowest_layer(stream_).socket().cancel();  // the watch's handler goes on
      return;
    }
    Next();
  }

  void Next() {
    if (keep_alive_) return Read();
    // TLS ends with close_notify, so that the client can tell the end from a truncation.
    if constexpr (std::is_same_v<Stream, Tls>) {
      beast::get_lowest_layer(stream_).expires_after(kShutdownTimeout);
      return stream_.async_shutdown(
          [self = this->shared_from_this()](beast::error_code) { self->Close(); });
    }
    Close();
  }

  // Reads while an answer is being made: EOF or an error means the client has gone. Bytes that
  // arrive (a pipelined request) stay in buffer_ for the next parse.
  void Watch() {
    if (watching_ || closed_) return;
    watching_ = true;
    stream_.async_read_some(buffer_.prepare(4096),
                            [self = this->shared_from_this()](beast::error_code ec, size_t n) {
                              self->watching_ = false;
                              self->buffer_.commit(n);
                              if (self->answered_) {
                                if (!self->closed_) self->Next();
                                return;
                              }
                              if (ec) {
                                if (self->gone_) std::exchange(self->gone_, nullptr)();
                                return self->Close();
                              }
                              self->Watch();
                            });
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    if (gone_) std::exchange(gone_, nullptr)();
    beast::error_code ignored;
    beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(stream_).close();
  }

  Stream stream_;
  HttpHandler* const handler_;
  const int64_t max_body_bytes_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string tail_;
  std::function<void()> gone_;
  bool keep_alive_ = true;
  bool header_sent_ = false;
  bool answered_ = false;
  bool watching_ = false;
  bool writing_ = false;  // a stream write is in flight
  bool closed_ = false;
};

}  // namespace

class HttpServer::Impl {
 public:
  Impl(const HttpServerOptions& options, HttpHandler* handler)
      : options_(options), handler_(handler), acceptor_(io_) {}

  absl::StatusOr<int> Start() {
    auto host_port = SplitHostPort(options_.listen, "openai.listen");
    if (!host_port.ok()) return host_port.status();
    beast::error_code ec;
    const auto address = net::ip::make_address(host_port->first, ec);
    if (ec) return absl::InvalidArgumentError("openai.listen: bad address " + options_.listen);
    const tcp::endpoint endpoint(address, static_cast<uint16_t>(host_port->second));
    acceptor_.open(endpoint.protocol(), ec);
    // Like gRPC's listener: a restart (after a crash above all) must not wait a minute for the
    // old connections' TIME_WAIT to clear before it can bind its port again.
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      return absl::UnavailableError(
          absl::StrCat("openai.listen: cannot listen on ", options_.listen, ": ", ec.message()));
    }
    if (!options_.tls_cert_path.empty()) {
      // TLS 1.2 and later, as the gRPC port, whatever the system's OpenSSL defaults allow.
      tls_.emplace(net::ssl::context::tls_server);
      tls_->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                        net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                        net::ssl::context::no_tlsv1_1);
      tls_->use_certificate_chain_file(options_.tls_cert_path, ec);
      if (ec) return absl::InvalidArgumentError("server.tls_cert_path: " + ec.message());
      tls_->use_private_key_file(options_.tls_key_path, net::ssl::context::pem, ec);
      if (ec) return absl::InvalidArgumentError("server.tls_key_path: " + ec.message());
    }
    Accept();
    for (int i = 0; i < options_.threads; ++i) threads_.emplace_back([this] { io_.run(); });
    return static_cast<int>(acceptor_.local_endpoint().port());
  }

  void Stop() {
    net::post(io_, [this] {
      beast::error_code ignored;
      acceptor_.close(ignored);
    });
    io_.stop();
    for (std::thread& thread : threads_) thread.join();
    threads_.clear();
  }

 private:
  void Accept() {
    acceptor_.async_accept(net::make_strand(io_), [this](beast::error_code ec, tcp::socket socket) {
      if (ec) {
        if (ec != net::error::operation_aborted) Accept();
        return;
      }
      socket.set_option(tcp::no_delay(true), ec);
      // A fixed send buffer (the kernel otherwise grows it to megabytes): a client that stops
      // reading then shows as pending output in its WriteQueue, where the slow-reader policy
      // sees it, instead of vanishing into socket buffers.
      socket.set_option(net::socket_base::send_buffer_size(kSendBufferBytes), ec);
      if (tls_) {
        std::make_shared<Connection<Tls>>(Tls(beast::tcp_stream(std::move(socket)), *tls_),
                                          handler_, options_.max_body_bytes)
            ->Begin();
      } else {
        std::make_shared<Connection<Plain>>(beast::tcp_stream(std::move(socket)), handler_,
                                            options_.max_body_bytes)
            ->Begin();
      }
      Accept();
    });
  }

  const HttpServerOptions options_;
  HttpHandler* const handler_;
  net::io_context io_;
  tcp::acceptor acceptor_;
  std::optional<net::ssl::context> tls_;
  std::vector<std::thread> threads_;
};

HttpServer::HttpServer() = default;

HttpServer::~HttpServer() { Stop(); }

absl::StatusOr<int> HttpServer::Start(const HttpServerOptions& options, HttpHandler* handler) {
  impl_ = std::make_unique<Impl>(options, handler);
  return impl_->Start();
}

void HttpServer::Stop() {
  if (impl_) impl_->Stop();
  impl_.reset();
}

}  // namespace ribbon::server::openai
