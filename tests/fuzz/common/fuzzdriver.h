// Shared by the stand-alone fuzz drivers (no libFuzzer): command-line handling. A numeric argument
// sets the corpus generator's seed; any other argument is a file replayed through the fuzz target.
#pragma once

#include <QByteArray>
#include <QFile>
#include <QString>
#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

namespace sss::fuzz {

inline void runInput(const QByteArray &b)
{
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t *>(b.constData()), size_t(b.size()));
}

// Replays the files named on the command line; returns the seed (default 1).
inline quint32 replayArgumentsAndGetSeed(int argc, char **argv)
{
    quint32 seed = 1;
    for (int i = 1; i < argc; ++i) {
        bool isNumber = false;
        const quint32 s = QByteArray(argv[i]).toUInt(&isNumber);
        if (isNumber) {
            seed = s;
            continue;
        }
        QFile f(QString::fromLocal8Bit(argv[i]));
        if (f.open(QIODevice::ReadOnly))
            runInput(f.readAll());
    }
    return seed;
}

} // namespace sss::fuzz
