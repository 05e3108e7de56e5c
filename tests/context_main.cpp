#define BOOST_TEST_MODULE tracecraft_context
#include <boost/test/unit_test.hpp>
