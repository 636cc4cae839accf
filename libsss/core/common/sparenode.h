// One freed node of a node-based map (std::map, std::unordered_map), kept for the next insertion.
// Request/response traffic inserts and erases one entry per request in several tables (streams,
// handles, scheduler, ack ranges); keeping the node makes that a relink instead of a free and a
// malloc. Keys are assumed new on insertion (a failed insert would drop the node).
#pragma once

#include <iterator>
#include <utility>

namespace sss::core {

template<typename Map> class SpareNode
{
public:
    using Node = typename Map::node_type;

    // Inserts key -> value, reusing the kept node if there is one.
    template<typename V> typename Map::iterator insert(Map &m, const typename Map::key_type &key, V &&value)
    {
        if (node_.empty())
            return m.emplace(key, std::forward<V>(value)).first;
        node_.key() = key;
        node_.mapped() = std::forward<V>(value);
        return m.insert(std::move(node_)).position;
    }
    // Reinserts the kept node under `key` with whatever value it holds (see kept()).
    typename Map::iterator reinsert(Map &m, const typename Map::key_type &key)
    {
        node_.key() = key;
        return m.insert(std::move(node_)).position;
    }
    // Erases *it, keeping its node if none is kept yet. Returns the iterator after it.
    typename Map::iterator erase(Map &m, typename Map::iterator it)
    {
        if (!node_.empty())
            return m.erase(it);
        auto next = std::next(it);
        node_ = m.extract(it);
        return next;
    }
    bool empty() const { return node_.empty(); }
    // The kept node's value, for tables that reuse the value too (check !empty() first).
    typename Map::mapped_type &kept() { return node_.mapped(); }

private:
    Node node_;
};

} // namespace sss::core
