#include <keel/middleware/real_ip.hpp>

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <stdexcept>

namespace keel::mw {
namespace {

struct Ip {
    int family = 0;  // AF_INET or AF_INET6
    std::array<unsigned char, 16> bytes{};
};

bool parse_ip(std::string_view text, Ip& out) {
    if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
        text = text.substr(1, text.size() - 2);
    }
    char buf[64];
    if (text.empty() || text.size() >= sizeof buf) {
        return false;
    }
    std::memcpy(buf, text.data(), text.size());
    buf[text.size()] = '\0';
    if (::inet_pton(AF_INET, buf, out.bytes.data()) == 1) {
        out.family = AF_INET;
        return true;
    }
    if (::inet_pton(AF_INET6, buf, out.bytes.data()) == 1) {
        out.family = AF_INET6;
        return true;
    }
    return false;
}

struct Cidr {
    Ip network;
    int prefix;
    bool contains(const Ip& ip) const {
        if (ip.family != network.family) {
            return false;
        }
        int full = prefix / 8, rest = prefix % 8;
        if (std::memcmp(ip.bytes.data(), network.bytes.data(), static_cast<std::size_t>(full)) != 0) {
            return false;
        }
        if (rest == 0) {
            return true;
        }
        unsigned char mask = static_cast<unsigned char>(0xFF << (8 - rest));
        return (ip.bytes[full] & mask) == (network.bytes[full] & mask);
    }
};

Cidr parse_cidr(const std::string& text) {
    std::size_t slash = text.find('/');
    Cidr c;
    if (!parse_ip(std::string_view(text).substr(0, slash), c.network)) {
        throw std::invalid_argument("keel: real_ip: \"" + text + "\" is not an IP address or CIDR");
    }
    int max = c.network.family == AF_INET ? 32 : 128;
    c.prefix = max;
    if (slash != std::string::npos) {
        try {
            std::size_t used = 0;
            c.prefix = std::stoi(text.substr(slash + 1), &used);
            if (used != text.size() - slash - 1) {
                throw std::invalid_argument("");
            }
        } catch (...) {
            c.prefix = -1;
        }
        if (c.prefix < 0 || c.prefix > max) {
            throw std::invalid_argument("keel: real_ip: \"" + text + "\": prefix length must be 0-" +
                                        std::to_string(max));
        }
    }
    return c;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return s;
}

// "for=192.0.2.60;proto=http, for=\"[2001:db8::1]:4711\"" → the last for= value's address.
std::string_view forwarded_for(std::string_view header) {
    std::string_view last;
    std::size_t pos = 0;
    while ((pos = header.find("for=", pos)) != std::string_view::npos) {
        if (pos > 0 && header[pos - 1] != ';' && header[pos - 1] != ',' && header[pos - 1] != ' ') {
            pos += 4;
            continue;
        }
        std::size_t end = header.find_first_of(";,", pos);
        std::string_view v =
            trim(header.substr(pos + 4, end == std::string_view::npos ? std::string_view::npos : end - pos - 4));
        if (v.size() >= 2 && v.front() == '"' && v.back() == '"') {
            v = v.substr(1, v.size() - 2);
        }
        if (!v.empty() && v.front() == '[') {
            v = v.substr(0, v.find(']') + 1);  // drop the port of "[v6]:port"
        } else if (std::count(v.begin(), v.end(), ':') == 1) {
            v = v.substr(0, v.find(':'));  // drop the port of "v4:port"
        }
        last = v;
        pos += 4;
    }
    return last;
}

void store(http::Request& req, std::string_view ip) {
    ClientIp c;
    c.size = static_cast<unsigned char>(std::min(ip.size(), sizeof c.data));
    std::memcpy(c.data, ip.data(), c.size);
    req.context().set(c);
}

}  // namespace

std::string client_ip(http::Request& req) {
    if (const ClientIp* c = req.context().get<ClientIp>()) {
        return std::string(c->view());
    }
    return req.remote_address().host();
}

http::Middleware real_ip(const std::vector<std::string>& trusted_proxies) {
    std::vector<Cidr> trusted;
    for (const auto& t : trusted_proxies) {
        trusted.push_back(parse_cidr(t));
    }
    return [trusted](http::Handler next) {
        return http::wrap(
            std::move(next),
            [trusted](http::Request& req) -> std::optional<http::Response> {
                auto is_trusted = [&](const Ip& ip) {
                    for (const Cidr& c : trusted) {
                        if (c.contains(ip)) {
                            return true;
                        }
                    }
                    return false;
                };
                std::string peer = req.remote_address().host();
                Ip peer_ip;
                if (!parse_ip(peer, peer_ip) || !is_trusted(peer_ip)) {
                    store(req, peer);  // never believe headers from an untrusted peer
                    return std::nullopt;
                }
                if (auto xff = req.header("X-Forwarded-For")) {
                    // Walk from the right: the first hop that is not a trusted proxy is the client.
                    std::string_view list = *xff;
                    while (!list.empty()) {
                        std::size_t comma = list.rfind(',');
                        std::string_view hop = trim(comma == std::string_view::npos ? list : list.substr(comma + 1));
                        list = comma == std::string_view::npos ? std::string_view{} : list.substr(0, comma);
                        Ip ip;
                        if (!parse_ip(hop, ip)) {
                            break;  // garbage: stop believing the header
                        }
                        if (!is_trusted(ip) || list.empty()) {
                            store(req, hop);
                            return std::nullopt;
                        }
                    }
                }
                Ip ip;
                if (auto xri = req.header("X-Real-IP"); xri && parse_ip(trim(*xri), ip)) {
                    store(req, trim(*xri));
                    return std::nullopt;
                }
                if (auto fwd = req.header("Forwarded")) {
                    std::string_view f = forwarded_for(*fwd);
                    if (parse_ip(f, ip)) {
                        store(req, f.front() == '[' ? f.substr(1, f.size() - 2) : f);
                        return std::nullopt;
                    }
                }
                store(req, peer);
                return std::nullopt;
            },
            nullptr);
    };
}

}  // namespace keel::mw
