#define BOOST_TEST_MODULE tracecraft_gateway
#include <boost/test/unit_test.hpp>
