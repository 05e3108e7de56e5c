// A standalone mock LLM (OpenAI chat-completions format) for load tests and manual runs.
//   ./build/examples/mock_llm --port 9000 --delay-ms 20 --chunks 8
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>

#include <boost/asio.hpp>

#include "example_cli.hpp"
#include "mock_llm.hpp"

int main(int argc, char** argv) {
    namespace po = examples::po;
    return examples::run(
        argc, argv, "mock_llm: a standalone mock LLM server (OpenAI chat-completions format, streaming too)",
        [](examples::cli& cli) {
            cli.options.add_options()
                ("port", po::value<unsigned short>()->default_value(9000), "TCP port on 127.0.0.1 (0: any)")
                ("delay-ms", po::value<unsigned>()->default_value(20), "delay before answering")
                ("chunks", po::value<unsigned>()->default_value(8), "chunks of a streamed answer")
                ("chunk-delay-ms", po::value<unsigned>()->default_value(2), "delay between chunks");
        },
        [](examples::cli& cli) {
            llm_gateway::mock_llm_options o;
            o.port = cli.vars["port"].as<unsigned short>();
            o.delay = std::chrono::milliseconds(cli.vars["delay-ms"].as<unsigned>());
            o.chunks = static_cast<int>(cli.vars["chunks"].as<unsigned>());
            o.chunk_delay = std::chrono::milliseconds(cli.vars["chunk-delay-ms"].as<unsigned>());
            boost::asio::io_context ioc;
            llm_gateway::mock_llm mock(ioc.get_executor(), o);
            std::cout << "mock_llm listening on 127.0.0.1:" << mock.port() << std::endl;
            boost::asio::signal_set signals(ioc, SIGINT, SIGTERM);
            signals.async_wait([&](const boost::system::error_code&, int) { ioc.stop(); });
            ioc.run();
            return 0;
        },
        /*tracing_options=*/false);
}
