// The exporter interface's default force_flush and shutdown.
#include "tracecraft/exporter.hpp"

namespace tracecraft {

boost::asio::awaitable<void> exporter::force_flush() { co_return; }
boost::asio::awaitable<void> exporter::shutdown() { co_return; }

} // namespace tracecraft
