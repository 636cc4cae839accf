// Transactions: request/reply exchanges on fresh substreams without a Stream object each. A
// request/response application otherwise pays per transaction for a QObject, its QIODevice, its
// registration and the signal connections it makes, on both ends and on the critical path; here
// the parent stream's signals report every transaction by id. The protocol is unchanged: each
// transaction is an ordinary substream carrying the request (then FIN) one way and the reply (then
// FIN) the other, so the peer may use Stream objects for its side.
#include "host_p.h"
#include "stream_p.h"

namespace sss {

void HostPrivate::acceptRequests(Stream *parent)
{
    // requestReceived() slots may delete the parent or the Host: re-check after each delivery.
    StreamGuard parentAlive(parent);
    HostGuard hostAlive(this);
    StreamPrivate *pd = StreamPrivate::get(parent);
    while (endpoint_ && pd->handle) {
        const core::StreamHandle h = endpoint_->acceptSubstream(pd->handle);
        if (!h)
            return;
        Transaction &t = transactions_.add(h);
        t.owner = parent;
        t.incoming = true;
        ++pd->transactions;
        // Events that came before this (the substream was pending) were kept for a Stream object.
        bool failed = false;
        if (!early_.isEmpty()) {
            for (const core::Event &e : early_.take(h))
                failed = failed || e.type == core::Event::Type::Error;
        }
        if (failed) {
            endTransaction(h, true); // the peer gave up on it before we saw it: nothing to report
            continue;
        }
        pumpTransaction(h, t); // what arrived with the open (a small request: all of it, and the FIN)
        if (!hostAlive || !parentAlive)
            return;
        sendAnswer(); // (before looking for the next one)
    }
}

void HostPrivate::transactionEvent(const core::Event &e, Transaction &t)
{
    using T = core::Event::Type;
    if (t.ending)
        return; // ended: what the core still reports about it (its FIN, its end) concerns no one
    switch (e.type) {
    case T::Readable:
    case T::Finished:
        pumpTransaction(e.stream, t);
        break;
    case T::BytesAcked:
        if (!t.unsent.isEmpty() && writeTransaction(e.stream, t, QByteArray(t.unsent))) {
            if (t.incoming) // the whole reply is queued: the core finishes it in the background
                endTransaction(e.stream, t, false);
            requestFlush();
        }
        break;
    case T::Error:
        failTransaction(e.stream,
                        e.error == core::StreamError::NoError ? Stream::Error::Closed
                                                              : static_cast<Stream::Error>(e.error));
        break;
    case T::Closed: // (only if the core ended it before we did)
        failTransaction(e.stream, Stream::Error::Closed);
        break;
    default:
        break;
    }
}

void HostPrivate::pumpTransaction(core::StreamHandle h, Transaction &t)
{
    if (t.delivered || !endpoint_)
        return;
    // A request that came in one packet is handed on as a slice of it, without a copy.
    QByteArray chunk;
    bool atEnd = false;
    const qint64 room = config.maxTransactionSize - t.data.size();
    const qint64 avail = endpoint_->readAll(h, room, chunk, atEnd);
    if (avail > room) { // (nothing was read)
        if (t.incoming) {
            endTransaction(h, true); // the requester sees its substream reset
        } else {
            failTransaction(h, Stream::Error::Cancelled);
        }
        return;
    }
    if (avail > 0) {
        if (t.data.isEmpty())
            t.data = std::move(chunk);
        else
            t.data += chunk;
        requestFlush(); // (reading returns flow-control credit)
    }
    if (!atEnd)
        return;
    Stream *owner = t.owner;
    const QByteArray data = std::exchange(t.data, QByteArray());
    if (t.incoming) {
        t.delivered = true; // kept until sendReply() or cancelRequest()
        emit owner->requestReceived(h, data);
    } else {
        endTransaction(h, t, false); // (our request's FIN went out with it)
        emit owner->replyReceived(h, data);
    }
}

void HostPrivate::failTransaction(core::StreamHandle h, Stream::Error error)
{
    Transaction *t = transactions_.find(h);
    if (!t || t->ending)
        return;
    Stream *owner = t->owner;
    const bool report = !t->incoming || t->delivered; // an incoming one the app never saw: silent
    endTransaction(h, *t, true);
    if (report)
        emit owner->requestFailed(h, error);
}

bool HostPrivate::writeTransaction(core::StreamHandle h, Transaction &t, const QByteArray &data)
{
    // Kept in t.unsent only if the send buffer did not take it all (a small one always fits). The
    // FIN goes with the last byte.
    const qint64 n = endpoint_->writeFinal(now(), h, data);
    if (n >= data.size()) {
        if (!t.unsent.isNull())
            t.unsent = QByteArray();
        return true;
    }
    t.unsent = n > 0 ? data.sliced(n) : data; // (shares the caller's buffer)
    return false;
}

void HostPrivate::endTransaction(core::StreamHandle h, bool reset)
{
    if (Transaction *t = transactions_.find(h))
        endTransaction(h, *t, reset);
}

void HostPrivate::endTransaction(core::StreamHandle h, Transaction &t, bool reset)
{
    if (t.ending)
        return;
    if (Stream *owner = t.owner)
        --StreamPrivate::get(owner)->transactions;
    if (!reset && driveDepth_ > 0 && endpoint_) {
        // A finished exchange inside a drive (a reply just queued, a reply just delivered): nothing
        // about it has to go out before the answer does. Release it after the drive's send. (The
        // reply's FIN was queued with its last byte, writeTransaction().)
        t.ending = true;
        t.owner = nullptr; // (no longer the stream's: cancelRequest() and its close leave it alone)
        if (!t.data.isNull())
            t.data = QByteArray();
        if (!t.unsent.isNull())
            t.unsent = QByteArray();
        endedTransactions_.push_back(h);
        requestFlush(); // the reply just queued leaves before the next event (or from a nested loop)
        return;
    }
    transactions_.remove(h); // (t is gone)
    if (!endpoint_)
        return;
    const core::Instant at = now();
    if (reset)
        endpoint_->reset(at, h, core::StreamError::Cancelled);
    if (endpoint_->release(at, h) || reset)
        requestFlush();
}

bool HostPrivate::releaseEndedTransactions()
{
    bool flush = false;
    const core::Instant t = now();
    for (core::StreamHandle h : endedTransactions_) { // (release() emits nothing: no re-entry)
        transactions_.remove(h);
        if (endpoint_ && endpoint_->release(t, h))
            flush = true;
    }
    endedTransactions_.clear(); // (keeps its capacity for the next drive)
    return flush;
}

void HostPrivate::dropTransactions(Stream *owner)
{
    std::vector<core::StreamHandle> mine;
    transactions_.forEach([&](core::StreamHandle h, const Transaction &t) {
        if (t.owner == owner)
            mine.push_back(h);
    });
    for (core::StreamHandle h : mine)
        endTransaction(h, true);
}

/*!
    Sends \a request on a fresh substream of this stream and returns the transaction's id (unique
    for the Host's lifetime), or 0 if it cannot be sent (error() says why). The reply arrives whole
    in replyReceived() with the same id, or requestFailed() reports why there will be none. The
    peer receives it in requestReceived() if it listens with ListenMode::AcceptRequests (or as an
    ordinary substream: read to the end, write the reply, close). No Stream object is created:
    many transactions may be in flight at once, each independent of the others.
*/
quint64 Stream::sendRequest(const QByteArray &request)
{
    Q_D(Stream);
    core::Endpoint *ep = d->usable("sendRequest");
    if (!ep)
        return 0;
    HostPrivate *hp = d->hostPrivate();
    const core::Instant now = hp->now();
    const core::StreamHandle h = ep->openSubstream(now, d->handle);
    if (!h) {
        d->failFromCore("sendRequest");
        return 0;
    }
    HostPrivate::Transaction &t = hp->transactions_.add(h);
    t.owner = this;
    ++d->transactions;
    hp->writeTransaction(h, t, request); // (the rest, if any, as the send buffer drains)
    hp->requestFlush();
    return h;
}

/*!
    Answers the request \a requestId received in requestReceived() with \a reply, which the peer
    receives whole. Returns false (and sets error() to InvalidArgument) if there is no such request
    waiting for a reply on this stream. Closing this stream does not end the transactions it
    received: they can still be answered.
*/
bool Stream::sendReply(quint64 requestId, const QByteArray &reply)
{
    Q_D(Stream);
    // The transaction is its own substream: it may be answered after this stream was closed.
    HostPrivate *hp = d->hostPrivate();
    if (!hp || !hp->endpoint()) {
        d->usable("sendReply"); // (sets HostDestroyed or HostNotBound)
        return false;
    }
    HostPrivate::Transaction *t = hp->transactions_.find(requestId);
    if (!t || t->owner != this || !t->incoming || !t->delivered || t->replied) {
        d->setError(Error::InvalidArgument,
                    QStringLiteral("No request %1 is waiting for a reply on this stream").arg(requestId));
        return false;
    }
    t->replied = true;
    if (hp->writeTransaction(requestId, *t, reply))
        hp->endTransaction(requestId, *t, false); // queued whole: FIN follows, the core finishes it
    else
        hp->requestFlush(); // the rest follows as the send buffer drains (BytesAcked)
    return true;
}

/*!
    Abandons the transaction \a requestId, sent by sendRequest() or received and not yet answered:
    its substream is reset and no signal about it follows. Returns false if there is no such
    transaction on this stream.
*/
bool Stream::cancelRequest(quint64 requestId)
{
    Q_D(Stream);
    HostPrivate *hp = d->hostPrivate();
    if (!hp)
        return false;
    HostPrivate::Transaction *t = hp->transactions_.find(requestId);
    if (!t || t->owner != this)
        return false;
    hp->endTransaction(requestId, *t, true);
    return true;
}

} // namespace sss
