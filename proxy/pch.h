#pragma once
// Precompiled header for the data plane: the Boost headers every proxy file pulls in.
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
