#include <keel/web/multipart.hpp>

#include <keel/http/body_stream.hpp>
#include <keel/http/request.hpp>
#include <keel/web/multipart_parser.hpp>

#include <fcntl.h>
#include <unistd.h>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace keel::web {
namespace {

http::Problem too_large(std::string detail) {
    return http::Problem{.status = 413, .detail = std::move(detail)};
}

Result<void> write_all(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
        ssize_t n = ::write(fd, bytes.data(), bytes.size());
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return Error::with_detail(Errc::io, std::string("writing an upload: ") + std::strerror(errno));
        }
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return {};
}

}  // namespace

FormFile::~FormFile() {
    if (fd_ >= 0) {
        ::close(fd_);
    }
    if (!path_.empty() && owned_) {
        ::unlink(path_.c_str());
    }
}

FormFile::FormFile(FormFile&& o) noexcept
    : field(std::move(o.field)),
      filename(std::move(o.filename)),
      content_type(std::move(o.content_type)),
      size(o.size),
      data_(std::move(o.data_)),
      path_(std::exchange(o.path_, {})),
      fd_(std::exchange(o.fd_, -1)),
      owned_(o.owned_) {}

FormFile& FormFile::operator=(FormFile&& o) noexcept {
    if (this != &o) {
        this->~FormFile();
        new (this) FormFile(std::move(o));
    }
    return *this;
}

Result<void> FormFile::save_as(const std::string& destination) {
    if (in_memory()) {
        int fd = ::open(destination.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
            return Error::with_detail(Errc::io, "open " + destination + ": " + std::strerror(errno));
        }
        auto written = write_all(fd, data_);
        ::close(fd);
        return written;
    }
    if (::rename(path_.c_str(), destination.c_str()) != 0) {
        return Error::with_detail(Errc::io, "rename to " + destination + ": " + std::strerror(errno));
    }
    path_ = destination;
    owned_ = false;  // no longer a temporary file of ours
    return {};
}

std::optional<std::string_view> Form::value(std::string_view name) const noexcept {
    for (const FormField& f : fields) {
        if (f.name == name) {
            return f.value;
        }
    }
    return std::nullopt;
}

const FormFile* Form::file(std::string_view name) const noexcept {
    for (const FormFile& f : files) {
        if (f.field == name) {
            return &f;
        }
    }
    return nullptr;
}

/// Builds a Form from the parser's parts, enforcing the limits.
class FormBuilder final : public MultipartParser::Sink {
  public:
    explicit FormBuilder(const FormLimits& limits) : limits_(limits) {}

    Result<void, http::Problem> begin(const MultipartParser::PartHead& head) override {
        if (form.fields.size() + form.files.size() >= limits_.max_fields) {
            return too_large("the form has more than " + std::to_string(limits_.max_fields) + " fields");
        }
        in_file_ = head.filename.has_value();
        if (!in_file_) {
            form.fields.push_back({head.name, {}});
            return {};
        }
        if (form.files.size() >= limits_.max_files) {
            return too_large("the form has more than " + std::to_string(limits_.max_files) + " files");
        }
        FormFile& f = form.files.emplace_back();
        f.field = head.name;
        f.filename = sanitize_filename(*head.filename);
        f.content_type = head.content_type;
        return {};
    }

    Result<void, http::Problem> data(std::string_view bytes) override {
        if (!in_file_) {
            FormField& field = form.fields.back();
            if (field.value.size() + bytes.size() > limits_.max_field_bytes) {
                return too_large("field \"" + field.name + "\" is longer than " +
                                 std::to_string(limits_.max_field_bytes) + " bytes");
            }
            field.value.append(bytes);
            return {};
        }
        FormFile& f = form.files.back();
        if (f.size + bytes.size() > limits_.max_file_bytes) {
            return too_large("the file in field \"" + f.field + "\" is larger than " +
                             std::to_string(limits_.max_file_bytes) + " bytes");
        }
        f.size += bytes.size();
        if (f.fd_ < 0 && f.data_.size() + bytes.size() <= limits_.memory_file_bytes) {
            f.data_.append(bytes);
            return {};
        }
        if (f.fd_ < 0) {
            if (auto opened = spill(f); !opened) {
                return opened;
            }
        }
        if (auto w = write_all(f.fd_, bytes); !w) {
            return storage_failed(w.error());
        }
        return {};
    }

    Result<void, http::Problem> end() override {
        if (in_file_ && form.files.back().fd_ >= 0) {
            ::close(form.files.back().fd_);
            form.files.back().fd_ = -1;
        }
        return {};
    }

    Form form;

  private:
    Result<void, http::Problem> spill(FormFile& f) {
        std::string dir = limits_.temp_dir;
        if (dir.empty()) {
            const char* env = std::getenv("TMPDIR");
            dir = env && *env ? env : "/tmp";
        }
        std::string path = dir + "/keel-upload-XXXXXX";
        int fd = ::mkostemp(path.data(), O_CLOEXEC);
        if (fd < 0) {
            return storage_failed(Error::with_detail(Errc::io, "mkostemp in " + dir + ": " + std::strerror(errno)));
        }
        f.fd_ = fd;
        f.path_ = std::move(path);
        if (auto w = write_all(fd, f.data_); !w) {
            return storage_failed(w.error());
        }
        f.data_.clear();
        f.data_.shrink_to_fit();
        return {};
    }

    // The cause (a full disk, a missing temp_dir) is an internal matter: a generic 500.
    static http::Problem storage_failed(const Error&) {
        return http::Problem{.status = 500, .detail = "the upload could not be stored"};
    }

    const FormLimits& limits_;
    bool in_file_ = false;
};

namespace {

enum class FormKind { urlencoded, multipart, other };

FormKind kind_of(const http::Request& req, std::optional<std::string>& boundary) {
    std::string_view ct = req.header("Content-Type").value_or("");
    if (is_urlencoded_content_type(ct)) {
        return FormKind::urlencoded;
    }
    boundary = MultipartParser::boundary_of(ct);
    return boundary ? FormKind::multipart : FormKind::other;
}

http::Problem with_instance(http::Problem p, const http::Request& req) {
    p.instance = std::string(req.path());
    return p;
}

http::Problem unsupported(const http::Request& req) {
    return with_instance(http::Problem{.status = 415,
                                       .detail = "the request body must be a form",
                                       .errors = {{"",
                                                   "Content-Type must be application/x-www-form-urlencoded or "
                                                   "multipart/form-data with a boundary"}}},
                         req);
}

Result<Form, http::Problem> urlencoded_form(std::string_view body, const FormLimits& limits, const http::Request& req) {
    auto fields = parse_urlencoded(body, limits.max_fields);
    if (!fields) {
        return with_instance(
            http::Problem{.status = 400, .detail = "the form is malformed", .errors = {fields.error()}}, req);
    }
    if (fields->size() > limits.max_fields) {
        return with_instance(too_large("the form has more than " + std::to_string(limits.max_fields) + " fields"), req);
    }
    for (const FormField& f : *fields) {
        if (f.value.size() > limits.max_field_bytes) {
            return with_instance(too_large("field \"" + f.name + "\" is longer than " +
                                           std::to_string(limits.max_field_bytes) + " bytes"),
                                 req);
        }
    }
    return Form{.fields = std::move(*fields), .files = {}};
}

}  // namespace

Result<Form, http::Problem> parse_form(const http::Request& req, const FormLimits& limits) {
    std::optional<std::string> boundary;
    switch (kind_of(req, boundary)) {
        case FormKind::urlencoded:
            return urlencoded_form(req.body(), limits, req);
        case FormKind::other:
            return unsupported(req);
        case FormKind::multipart:
            break;
    }
    MultipartParser parser(*boundary, limits.max_part_header_bytes);
    FormBuilder builder(limits);
    if (auto r = parser.feed(req.body(), builder); !r) {
        return with_instance(std::move(r.error()), req);
    }
    if (auto r = parser.finish(); !r) {
        return with_instance(std::move(r.error()), req);
    }
    return std::move(builder.form);
}

Task<Result<Form, http::Problem>> read_form(http::Request& req) {
    static const FormLimits defaults;
    return read_form(req, defaults);
}

// `limits` by reference: with a by-value FormLimits (a std::string inside) defaulted to `{}`,
// GCC 12 destroyed a parameter copy it never constructed (ASan: free of a non-malloc'd pointer).
Task<Result<Form, http::Problem>> read_form(http::Request& req, const FormLimits& limits) {
    http::BodyStream* stream = req.body_stream();
    if (stream == nullptr) {
        co_return parse_form(req, limits);
    }
    std::optional<std::string> boundary;
    FormKind kind = kind_of(req, boundary);
    if (kind == FormKind::other) {
        co_return unsupported(req);
    }
    std::string urlencoded;  // gathered whole: its fields are parsed at the end
    std::optional<MultipartParser> parser;
    if (kind == FormKind::multipart) {
        parser.emplace(*boundary, limits.max_part_header_bytes);
    }
    FormBuilder builder(limits);
    for (;;) {
        auto piece = co_await stream->read();
        if (!piece) {
            co_return with_instance(std::move(piece.error()), req);
        }
        if (piece->empty()) {
            break;
        }
        if (!parser) {
            urlencoded.append(*piece);
        } else if (auto r = parser->feed(*piece, builder); !r) {
            co_return with_instance(std::move(r.error()), req);
        }
    }
    if (!parser) {
        co_return urlencoded_form(urlencoded, limits, req);
    }
    if (auto r = parser->finish(); !r) {
        co_return with_instance(std::move(r.error()), req);
    }
    co_return std::move(builder.form);
}

}  // namespace keel::web
