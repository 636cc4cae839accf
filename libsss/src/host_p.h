// HostPrivate: the driver of one Host. It owns the sans-IO core Endpoint and a Platform and runs the
// drive loop after every input: feed the core, drain pollTransmit() into ONE send batch, re-arm the
// one timer at nextTimeout(), then drain pollEvent() and emit signals (never inside a core call).
#pragma once

#include "channel/endpoint.h"
#include "common/idtable.h"
#include "platform_p.h"

#include <QHash>
#include <QPair>
#include <QPointer>
#include <memory>
#include <sss/host.h>
#include <sss/stream.h>

namespace sss {

class Stream;
class Server;

class HostPrivate;

// A QPointer<Host> for the drive's re-checks after each emit (a slot may delete the Host), without
// QPointer's shared reference count: guards live on the stack, strictly nested, and ~Host clears them.
class HostGuard
{
public:
    explicit HostGuard(HostPrivate *d);
    ~HostGuard();
    HostGuard(const HostGuard &) = delete;
    HostGuard &operator=(const HostGuard &) = delete;
    explicit operator bool() const { return d_ != nullptr; }
    bool operator!() const { return d_ == nullptr; }

private:
    friend class Host;
    HostPrivate *d_;
    HostGuard *next_;
};

class HostPrivate
{
    Q_DECLARE_PUBLIC(Host)
public:
    explicit HostPrivate(Host *q) : q_ptr(q) { }
    ~HostPrivate();

    // PeerIds of authenticated peers, cached: validating a key (Ed25519 -> X25519) costs tens of
    // microseconds, far too much to repeat for every stream of a request/response workload.
    PeerId peerIdFor(const QByteArray &bytes) const
    {
        auto it = peerIds_.constFind(bytes);
        if (it != peerIds_.cend())
            return *it;
        const PeerId p = PeerId::fromBytes(bytes);
        if (peerIds_.size() >= 4096)
            peerIds_.clear();
        peerIds_.insert(bytes, p);
        return p;
    }
    mutable QHash<QByteArray, PeerId> peerIds_;

    static HostPrivate *get(Host *host) { return host ? host->d_func() : nullptr; }

    bool start(std::unique_ptr<detail::Platform> platform);
    void stop(bool emitSignals);
    void setError(Host::Error error, const QString &text);

    core::Endpoint *endpoint() const { return endpoint_.get(); }
    // Inside a drive, the time read when its round began (commands from slots do not each read the
    // clock; the transmit step reads it afresh for pacing). Outside, or once a slot has let the
    // event loop block (a nested loop), the platform's clock.
    core::Instant now() const { return driveDepth_ > 0 && driveNowValid_ ? driveNow_ : platform_->now(); }
    bool isRealTime() const { return platform_ && platform_->isRealTime(); }

    // App commands went straight into the core; one coalesced flush per event-loop turn sends the result.
    // Inside a drive the drive's own loop sends it (or the idle hook, if a slot spins a nested event
    // loop). Otherwise, or where the platform has no idle hook, post one coalesced drive; the posted
    // drive is skipped if an inline one got there first. (Inline: slots call it per command.)
    void requestFlush()
    {
        flushWanted_ = true;
        if (!flushPosted_ && !(driveDepth_ > 0 && platformDefers_))
            postFlush();
    }
    void postFlush();
    // `start`: the input's time, if the platform just read the clock (the first round uses it).
    void drive(const core::Instant *start = nullptr);

    // Platform inputs.
    void onDatagram(const core::SocketAddress &from, const char *data, qsizetype size);
    void onBatchEnd(core::Instant receivedAt) { drive(&receivedAt); }
    void onTimeout();
    // The event loop is about to block: run what a slot left for the driver (nested event loops).
    void onIdle()
    {
        driveNowValid_ = false; // a slot's nested event loop is about to block: time moves on
        if (flushWanted_ || hasCatchUps())
            drive();
    }

    void registerStream(core::StreamHandle h, Stream *s)
    {
        if (Stream **known = streams_.find(h))
            *known = s;
        else
            streams_.add(h) = s;
    }
    // A Stream object appeared for a handle whose events may have been dispatched before (accepted
    // substream, connection taken later from a Server): on the next turn, replay the events kept
    // for it and announce what is already readable, so no signal is lost.
    void postCatchUp(Stream *s);
    void unregisterStream(core::StreamHandle h, Stream *s)
    {
        if (Stream **known = streams_.find(h); known && *known == s)
            streams_.remove(h);
    }
    Stream *streamFor(core::StreamHandle h)
    {
        Stream **s = streams_.find(h);
        return s ? *s : nullptr;
    }
    bool registerServer(Server *server, const QString &service, const QString &protocol, QString *error);
    void unregisterServer(Server *server);

    core::EndpointConfig endpointConfig() const;

    Host *q_ptr;
    Identity identity;
    HostConfig config;
    Host::Error error = Host::Error::NoError;
    QString errorString;
    bool tracing = false;

    void deliverEvents(bool sendAnswers = false);
    // In a turn woken by a single datagram (deliverEvents(true)), what a slot just wrote leaves at
    // once, before anything else is dispatched or looked at (acceptRequests: the next pending one).
    bool sendAnswers_ = false;
    void sendAnswer()
    {
        if (sendAnswers_ && flushWanted_ && endpoint_) { // (a slot may have closed the Host)
            flushWanted_ = false;
            transmit();
        }
    }
    void transmit(); // everything the core has to send, to the platform
    int batchDatagrams_ = 0; // datagrams delivered since the last drive
    void dispatch(const core::Event &e);

    std::unique_ptr<detail::Platform> platform_;
    std::unique_ptr<core::Endpoint> endpoint_;
    std::vector<core::Transmit> batch_; // reused across drives (see transmit())
    bool flushPosted_ = false;
    bool platformDefers_ = false; // platform_->canDefer(), fixed for a platform
    int driveDepth_ = 0; // > 0 while drive() runs (nested loops inside slots nest it)
    HostGuard *guards_ = nullptr; // the drive's live guards, innermost first (see HostGuard)
    core::Instant driveNow_ {}; // see now()
    bool driveNowValid_ = false;
    std::vector<core::StreamHandle> catchUp_; // postCatchUp() streams, by handle (no guard needed)
    // Streams that switched to listen(AcceptRequests) with substreams already waiting: taken on the
    // next drive, not inside listen() (the caller connects requestReceived after it).
    std::vector<core::StreamHandle> requestCatchUp_;
    bool hasCatchUps() const { return !catchUp_.empty() || !requestCatchUp_.empty(); }
    bool runCatchUps(); // the catch-ups; false if a slot deleted the Host
    void catchUp(core::StreamHandle h);
    bool flushWanted_ = false; // a command changed the core since the last drive
    core::IdTable<Stream *> streams_; // (looked up per event, like transactions_)
    QHash<QPair<QString, QString>, Server *> servers_;
    // State-changing events of handles without a Stream object yet (a substream not accepted yet).
    // Bounded: dropped wholesale past kMaxEarly entries (a peer flooding unaccepted substreams).
    static constexpr qsizetype kMaxEarly = 65536;
    QHash<core::StreamHandle, QList<core::Event>> early_;

    // Transactions (Stream::sendRequest, ListenMode::AcceptRequests, transactions.cpp): substreams
    // without a Stream object. Their events are handled here and reported on the owner's signals.
    struct Transaction {
        Stream *owner = nullptr; // the parent stream
        bool incoming = false; // a request we received (answered by sendReply) or one we sent
        bool delivered = false; // incoming: requestReceived emitted, waiting for sendReply
        bool replied = false; // incoming: sendReply called, the rest of the reply is being written
        bool ending = false; // ended; its handle is released after this drive's send (endedTransactions_)
        QByteArray data; // what arrived so far (delivered whole at the end of the substream)
        QByteArray unsent; // what write() has not taken yet (send buffer full)
    };
    // One entry per transaction, inserted and erased once each per request and looked up per
    // event (core::IdTable, indexed by the handle's low bits). Entries move on insert and erase: hold a
    // Transaction & only while nothing can add or remove one.
    core::IdTable<Transaction> transactions_;
    void acceptRequests(Stream *parent); // takes the parent's pending substreams as transactions
    void transactionEvent(const core::Event &e, Transaction &t);
    void pumpTransaction(core::StreamHandle h, Transaction &t); // reads what arrived; delivers at the end
    void failTransaction(core::StreamHandle h, Stream::Error error);
    // Writes data (t's request or reply, or its unsent rest); true once all is written, with the FIN.
    bool writeTransaction(core::StreamHandle h, Transaction &t, const QByteArray &data);
    void endTransaction(core::StreamHandle h, bool reset); // releases the handle, forgets it
    void endTransaction(core::StreamHandle h, Transaction &t, bool reset); // (its entry in hand)
    // Transactions that ended normally inside a drive: released after the drive's send, so the
    // release (and forgetting them) is not between a request and its answer. Until then their
    // events are ignored.
    std::vector<core::StreamHandle> endedTransactions_;
    bool releaseEndedTransactions(); // true if that left something to send
    void dropTransactions(Stream *owner); // the owner is going away: reset its transactions
};

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdangling-pointer" // (the guard unlinks itself when it goes)
#endif
inline HostGuard::HostGuard(HostPrivate *d) : d_(d), next_(d->guards_)
{
    d->guards_ = this;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

inline HostGuard::~HostGuard()
{
    if (d_) // (strictly nested: this is the innermost live guard)
        d_->guards_ = next_;
}

} // namespace sss
