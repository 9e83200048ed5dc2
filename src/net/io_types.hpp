// The socket and timer types of the network edge.
#pragma once

#include <boost/asio/basic_stream_socket.hpp>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>

namespace chatrix::net {

// Sockets and timers bound to the io_context's own executor rather than any_io_executor: the
// type-erased executor costs 40 bytes more in every socket, timer and pending operation.
using io_executor = boost::asio::io_context::executor_type;
using socket_type = boost::asio::basic_stream_socket<boost::asio::ip::tcp, io_executor>;
using timer_type = boost::asio::basic_waitable_timer<std::chrono::steady_clock,
                                                     boost::asio::wait_traits<std::chrono::steady_clock>, io_executor>;

}  // namespace chatrix::net
