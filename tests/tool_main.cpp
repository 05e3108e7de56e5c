#define BOOST_TEST_MODULE tracecraft_tool
#include <boost/test/unit_test.hpp>
