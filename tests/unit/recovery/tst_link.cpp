// A small link model driven in a loop (no simulator): one bulk sender with a congestion controller
// and a pacer, a drop-tail bottleneck of fixed rate whose buffer holds one bandwidth-delay product,
// and a fixed propagation delay. Loss detection is RFC 9002's packet threshold (3) and time
// threshold, with a PTO fallback. Checks that NewReno and CUBIC keep the link busy and recover
// from an extra loss.
#include "recovery/congestion.h"
#include "recovery/pacer.h"

#include <QTest>
#include <deque>
#include <map>

using namespace sss::core;

Q_DECLARE_METATYPE(CongestionAlgorithm)

namespace {
const Instant t0 = Instant {} + 1000s;
constexpr qint64 kMss = 1200;
constexpr quint64 kPacketThreshold = 3;

class LinkModel
{
public:
    LinkModel(CongestionAlgorithm algorithm, double bytesPerSecond, Duration rttProp, qint64 bufferBytes)
        : cc_(createCongestionController(algorithm, kMss)), pacer_(kMss), rate_(bytesPerSecond),
          rttProp_(rttProp), buffer_(bufferBytes), service_(qint64(double(kMss) / bytesPerSecond * 1e9)),
          now_(t0), linkFreeAt_(t0)
    { }

    void runUntil(Instant end)
    {
        for (;;) {
            processAcks();
            detectLosses();
            const Instant next = std::min({trySend(), nextAck(), nextLossTime(), ptoDeadline()});
            if (next > end) {
                now_ = end;
                return;
            }
            now_ = next;
            if (now_ == ptoDeadline())
                onPto();
        }
    }

    void dropNextPacket() { forceDrop_ = true; }
    Instant now() const { return now_; }
    qint64 delivered() const { return delivered_; }
    qint64 window() const { return cc_->window(); }
    int reductions() const { return reductions_; }
    bool forcedLossDetected() const { return forcedLossDetected_; }
    qint64 windowAfterForcedLoss() const { return windowAfterForcedLoss_; }
    double rate() const { return rate_; }

private:
    struct Packet {
        Instant sent;
        Instant ackAt; // kNever when dropped at the bottleneck
        bool forced;
    };

    Instant trySend()
    {
        while (bytesInFlight_ + kMss <= cc_->window()) {
            pacer_.setRate(cc_->window(), rtt_.smoothed(), cc_->inSlowStart());
            const Instant t = pacer_.nextSendTime(now_, kMss);
            if (t > now_)
                return t;
            send();
        }
        return kNever; // window-limited: the next ack or loss reopens it
    }

    void send()
    {
        while (!bottleneck_.empty() && bottleneck_.front() <= now_)
            bottleneck_.pop_front();
        const bool forced = forceDrop_;
        forceDrop_ = false;
        Packet p {now_, kNever, forced};
        if (!forced && qint64(bottleneck_.size() + 1) * kMss <= buffer_) {
            const Instant departure = std::max(now_, linkFreeAt_) + service_;
            linkFreeAt_ = departure;
            bottleneck_.push_back(departure);
            p.ackAt = departure + rttProp_;
            ackQueue_.push_back(nextPn_);
        }
        cc_->onPacketSent(now_, kMss, bytesInFlight_);
        pacer_.onSent(now_, kMss);
        bytesInFlight_ += kMss;
        inFlight_.emplace(nextPn_++, p);
    }

    Instant nextAck() const { return ackQueue_.empty() ? kNever : inFlight_.at(ackQueue_.front()).ackAt; }

    void processAcks()
    {
        while (!ackQueue_.empty() && inFlight_.at(ackQueue_.front()).ackAt <= now_) {
            const quint64 pn = ackQueue_.front();
            ackQueue_.pop_front();
            const Packet p = inFlight_.at(pn);
            inFlight_.erase(pn);
            rtt_.update(now_ - p.sent, Duration::zero(), true, Duration::zero());
            cc_->onPacketAcked(now_, AckedPacket {p.sent, kMss}, rtt_, false);
            bytesInFlight_ -= kMss;
            delivered_ += kMss;
            largestAcked_ = pn;
            lastAckTime_ = now_;
        }
    }

    // Everything below the largest acked is a dropped packet (the bottleneck is FIFO).
    void detectLosses()
    {
        if (!largestAcked_)
            return;
        for (auto it = inFlight_.begin(); it != inFlight_.end() && it->first < *largestAcked_;) {
            if (*largestAcked_ >= it->first + kPacketThreshold
                || now_ - it->second.sent >= rtt_.lossDelay()) {
                declareLost(it->second);
                it = inFlight_.erase(it);
            } else {
                ++it;
            }
        }
    }

    Instant nextLossTime() const
    {
        if (!largestAcked_ || inFlight_.empty() || inFlight_.begin()->first >= *largestAcked_)
            return kNever;
        return inFlight_.begin()->second.sent + rtt_.lossDelay();
    }

    // Nothing left that will be acked: only a probe timeout finds the losses.
    Instant ptoDeadline() const
    {
        if (inFlight_.empty() || !ackQueue_.empty())
            return kNever;
        return std::max(inFlight_.rbegin()->second.sent, lastAckTime_) + rtt_.pto(Duration::zero());
    }

    void onPto()
    {
        for (const auto &[pn, p] : inFlight_)
            declareLost(p);
        inFlight_.clear();
    }

    void declareLost(const Packet &p)
    {
        const qint64 before = cc_->window();
        cc_->onCongestionEvent(now_, p.sent);
        if (cc_->window() < before)
            ++reductions_;
        bytesInFlight_ -= kMss;
        if (p.forced) {
            forcedLossDetected_ = true;
            windowAfterForcedLoss_ = cc_->window();
        }
    }

    std::unique_ptr<CongestionController> cc_;
    RttEstimator rtt_;
    Pacer pacer_;
    double rate_;
    Duration rttProp_;
    qint64 buffer_;
    Duration service_;
    Instant now_;
    Instant linkFreeAt_;
    Instant lastAckTime_ = t0;
    std::deque<Instant> bottleneck_; // departure times of packets queued or in service
    std::map<quint64, Packet> inFlight_;
    std::deque<quint64> ackQueue_; // packets that will be acked, in ack order
    std::optional<quint64> largestAcked_;
    quint64 nextPn_ = 0;
    qint64 bytesInFlight_ = 0;
    qint64 delivered_ = 0;
    int reductions_ = 0;
    bool forceDrop_ = false;
    bool forcedLossDetected_ = false;
    qint64 windowAfterForcedLoss_ = 0;
};

double utilisation(LinkModel &m, Instant from, Instant to)
{
    m.runUntil(from);
    const qint64 before = m.delivered();
    m.runUntil(to);
    return double(m.delivered() - before) / (m.rate() * toSeconds(to - from));
}

void addCases()
{
    QTest::addColumn<CongestionAlgorithm>("algorithm");
    QTest::addColumn<double>("mbps");
    QTest::addColumn<int>("rttMs");
    for (auto a : {CongestionAlgorithm::NewReno, CongestionAlgorithm::Cubic}) {
        QTest::addRow("%s 10 Mbit/s 40 ms", toString(a)) << a << 10.0 << 40;
        QTest::addRow("%s 50 Mbit/s 20 ms", toString(a)) << a << 50.0 << 20;
        QTest::addRow("%s 2 Mbit/s 100 ms", toString(a)) << a << 2.0 << 100;
    }
}
} // namespace

class TestLink : public QObject
{
    Q_OBJECT
private slots:
    void steadyUtilisation_data() { addCases(); }
    void steadyUtilisation()
    {
        QFETCH(CongestionAlgorithm, algorithm);
        QFETCH(double, mbps);
        QFETCH(int, rttMs);
        const double rate = mbps * 1e6 / 8;
        const Duration rtt = std::chrono::milliseconds(rttMs);
        const qint64 bdp = qint64(rate * toSeconds(rtt));
        LinkModel m(algorithm, rate, rtt, bdp);
        const double u = utilisation(m, t0 + 5s, t0 + 40s);
        qInfo("%s: utilisation %.3f, %d window reductions", toString(algorithm), u, m.reductions());
        QVERIFY2(u > 0.85, qPrintable(QString::number(u)));
        // Acks are counted whole, so the window edges may add a packet: never more than that.
        QVERIFY(u <= 1.0 + 2.0 * kMss / (rate * 35.0));
        QVERIFY(m.reductions() >= 2); // the buffer overflowed: the sender really probed the capacity
    }

    void recoversAfterLoss_data() { addCases(); }
    void recoversAfterLoss()
    {
        QFETCH(CongestionAlgorithm, algorithm);
        QFETCH(double, mbps);
        QFETCH(int, rttMs);
        const double rate = mbps * 1e6 / 8;
        const Duration rtt = std::chrono::milliseconds(rttMs);
        const qint64 bdp = qint64(rate * toSeconds(rtt));
        LinkModel m(algorithm, rate, rtt, bdp);
        m.runUntil(t0 + 10s);
        const int reductionsBefore = m.reductions();
        m.dropNextPacket();
        m.runUntil(t0 + 10s + 10 * rtt);
        QVERIFY(m.forcedLossDetected());
        QVERIFY(m.reductions() > reductionsBefore);
        const qint64 reduced = m.windowAfterForcedLoss();
        // Throughput over the following seconds stays high and the window grows back.
        const double u = utilisation(m, m.now(), m.now() + 10s);
        qInfo("%s: utilisation after loss %.3f, window %lld -> %lld", toString(algorithm), u,
              qlonglong(reduced), qlonglong(m.window()));
        QVERIFY2(u > 0.85, qPrintable(QString::number(u)));
        bool grew = false;
        for (int i = 0; i < 100 && !grew; ++i) {
            m.runUntil(m.now() + rtt);
            grew = m.window() > reduced + 2 * kMss;
        }
        QVERIFY(grew);
    }
};

QTEST_APPLESS_MAIN(TestLink)
#include "tst_link.moc"
