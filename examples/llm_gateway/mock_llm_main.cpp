// A standalone mock LLM (OpenAI chat-completions format) for load tests and manual runs.
//   ./build/examples/mock_llm --port 9000 --delay-ms 20 --chunks 8
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>

#include <boost/asio.hpp>

#include "mock_llm.hpp"

int main(int argc, char** argv) {
    llm_gateway::mock_llm_options o;
    o.port = 9000;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        const int v = std::atoi(argv[i + 1]);
        if (a == "--port") o.port = static_cast<unsigned short>(v);
        else if (a == "--delay-ms") o.delay = std::chrono::milliseconds(v);
        else if (a == "--chunks") o.chunks = v;
        else if (a == "--chunk-delay-ms") o.chunk_delay = std::chrono::milliseconds(v);
        else {
            std::cerr << "usage: mock_llm [--port N] [--delay-ms N] [--chunks N] [--chunk-delay-ms N]\n";
            return 2;
        }
    }
    boost::asio::io_context ioc;
    llm_gateway::mock_llm mock(ioc.get_executor(), o);
    std::cout << "mock_llm listening on 127.0.0.1:" << mock.port() << std::endl;
    boost::asio::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code&, int) { ioc.stop(); });
    ioc.run();
}
