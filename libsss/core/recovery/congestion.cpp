#include "recovery/congestion.h"

#include "recovery/cubic.h"
#include "recovery/newreno.h"

namespace sss::core {

std::unique_ptr<CongestionController> createCongestionController(CongestionAlgorithm algorithm,
                                                                 qint64 maxDatagramSize)
{
    if (maxDatagramSize < kMinMaxDatagramSize || maxDatagramSize > kMaxMaxDatagramSize)
        maxDatagramSize = kDefaultMaxDatagramSize;
    switch (algorithm) {
    case CongestionAlgorithm::NewReno:
        return std::make_unique<NewReno>(maxDatagramSize);
    case CongestionAlgorithm::Cubic:
        return std::make_unique<Cubic>(maxDatagramSize);
    }
    return std::make_unique<NewReno>(maxDatagramSize);
}

const char *toString(CongestionAlgorithm algorithm)
{
    switch (algorithm) {
    case CongestionAlgorithm::NewReno:
        return "newreno";
    case CongestionAlgorithm::Cubic:
        return "cubic";
    }
    return "unknown";
}

std::optional<CongestionAlgorithm> parseCongestionAlgorithm(QStringView name)
{
    const QStringView trimmed = name.trimmed();
    if (trimmed.compare(u"newreno", Qt::CaseInsensitive) == 0)
        return CongestionAlgorithm::NewReno;
    if (trimmed.compare(u"cubic", Qt::CaseInsensitive) == 0)
        return CongestionAlgorithm::Cubic;
    return std::nullopt;
}

} // namespace sss::core
