// Listening-socket helpers shared by the gateway and the mock LLM.
#pragma once

#include <string>

#include <boost/asio/ip/tcp.hpp>

namespace llm_gateway {

/// Opens, binds (address:port, 0 = any free port) and listens; throws system_error.
inline void listen_on(boost::asio::ip::tcp::acceptor& acceptor, const std::string& address, unsigned short port) {
    const boost::asio::ip::tcp::endpoint ep(boost::asio::ip::make_address(address), port);
    acceptor.open(ep.protocol());
    acceptor.set_option(boost::asio::socket_base::reuse_address(true));
    acceptor.bind(ep);
    acceptor.listen();
}

/// The bound port, or 0 once closed.
inline unsigned short bound_port(const boost::asio::ip::tcp::acceptor& acceptor) noexcept {
    boost::system::error_code ec;
    return acceptor.local_endpoint(ec).port();
}

} // namespace llm_gateway
