// TraceCraft C++ — umbrella header.
#pragma once

#include "tracecraft/async.hpp"
#include "tracecraft/attribute.hpp"
#include "tracecraft/awaitable_operators.hpp"
#include "tracecraft/config.hpp"
#include "tracecraft/config_loader.hpp"
#include "tracecraft/executor.hpp"
#include "tracecraft/exporter.hpp"
#include "tracecraft/ids.hpp"
#include "tracecraft/log.hpp"
#include "tracecraft/propagation.hpp"
#include "tracecraft/runtime.hpp"
#include "tracecraft/span.hpp"
#include "tracecraft/span_data.hpp"
#include "tracecraft/span_kind.hpp"
