// Export macro and version of the SSS library.
#pragma once

#include <QtCore/qglobal.h>

#if defined(SSS_STATIC)
#define SSS_EXPORT
#elif defined(SSS_BUILD_LIBRARY)
#define SSS_EXPORT Q_DECL_EXPORT
#else
#define SSS_EXPORT Q_DECL_IMPORT
#endif

#define SSS_VERSION_STR "0.1.0"
