#define BOOST_TEST_MODULE tracecraft_core
#include <boost/test/unit_test.hpp>
