// Convenience header: the whole public API.
#pragma once

#include <sss/global.h>
#include <sss/host.h>
#include <sss/identity.h>
#include <sss/peerid.h>
#include <sss/server.h>
#include <sss/stream.h>
