#pragma once

#include "host_p.h"

#include <QPointer>
#include <sss/stream.h>

namespace sss {

// "Is this Stream still alive after the emit?" for the hot paths. QPointer would do, but it
// allocates a shared reference block for every object it ever watches: one malloc per
// request/response stream. ~Stream clears the guards registered on it instead. Scoped only.
class StreamGuard
{
public:
    explicit StreamGuard(Stream *s);
    ~StreamGuard();
    StreamGuard(const StreamGuard &) = delete;
    StreamGuard &operator=(const StreamGuard &) = delete;
    explicit operator bool() const { return s_ != nullptr; }
    Stream *data() const { return s_; }

private:
    friend class Stream;
    Stream *s_;
    StreamGuard *next_ = nullptr;
};

class StreamPrivate
{
    Q_DECLARE_PUBLIC(Stream)
public:
    StreamPrivate(Stream *q, Host *h) : q_ptr(q), host(h) { }

    static StreamPrivate *get(Stream *s) { return s->d_func(); }

    HostPrivate *hostPrivate() const { return HostPrivate::get(host.data()); }
    core::Endpoint *endpoint() const
    {
        HostPrivate *hp = hostPrivate();
        return hp ? hp->endpoint() : nullptr;
    }
    // The endpoint if this stream is attached to a live stream; otherwise sets a misuse error.
    // (Inline: every read, write and shutdown asks; the error report is out of line.)
    core::Endpoint *usable(const char *operation)
    {
        HostPrivate *hp = hostPrivate();
        core::Endpoint *ep = hp ? hp->endpoint() : nullptr;
        if (Q_LIKELY(ep && handle))
            return ep;
        return unusable(operation);
    }
    core::Endpoint *unusable(const char *operation); // sets the error, returns nullptr

    // `knownPeer`: the parent's PeerId for a substream (same channel), saving the lookup.
    void attach(core::StreamHandle h, Stream::State initial, const PeerId *knownPeer = nullptr);
    void detach(); // forgets the handle (core state gone or released)
    void setState(Stream::State s);
    void setError(Stream::Error e, const QString &text);
    void failFromCore(const char *operation);
    void updateClosedState();
    void hostGone(Stream::Error e, const QString &text, bool emitSignals);

    Stream *q_ptr;
    StreamGuard *guards = nullptr; // live StreamGuards on this stream (a stack, usually 1-2 deep)
    QPointer<Host> host;
    core::StreamHandle handle = 0;
    Stream::State state = Stream::State::Unconnected;
    Stream::Error error = Stream::Error::NoError;
    PeerId peer;
    int priority = 0;
    bool everAttached = false;
    bool writeShut = false;
    bool peerFinished = false;
    bool acceptRequests = false; // listen(AcceptRequests): the peer's substreams are transactions
    int transactions = 0; // live entries in HostPrivate::transactions_ owned by this stream
};

QString errorText(Stream::Error e);

} // namespace sss
