#pragma once
/// Reading an HTML form whole — application/x-www-form-urlencoded or multipart/form-data with
/// files — under limits, from a body held in memory or streamed (keel/http/body_stream.hpp):
///
///     keel::Task<keel::ProblemOr> upload(keel::Request& req) {
///         KEEL_CO_TRY(form, co_await keel::web::read_form(req));
///         KEEL_CO_TRY(meta, keel::web::bind_fields<UploadMeta>(form.fields));   // typed text fields
///         std::uint64_t bytes = 0;
///         for (const keel::web::FormFile& f : form.files) {
///             bytes += f.size;  // f.filename is for display only; the bytes are f.data() or f.path()
///         }
///         co_return keel::Response::text(meta.album + ": " + std::to_string(bytes) + " bytes");
///     }
///
/// Files up to FormLimits::memory_file_bytes stay in memory; larger ones are written, as they
/// arrive, to a temporary file (mode 0600, a name of our choosing, never the client's) that is
/// deleted with the Form unless FormFile::save_as moved it. Exceeding a limit is a 413 naming the
/// field; a malformed body a 400; another Content-Type a 415. Writing a spilled file is a plain
/// write(2) on the loop thread (page cache), like nginx's request-body buffering.

#include <keel/core/result.hpp>
#include <keel/core/task.hpp>
#include <keel/http/problem.hpp>
#include <keel/web/form.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace keel::http {
class Request;
}  // namespace keel::http

namespace keel::web {

struct FormLimits {
    std::size_t max_fields = 1000;            ///< text fields and files together
    std::size_t max_field_bytes = 64 * 1024;  ///< one text value
    std::size_t max_files = 32;
    std::uint64_t max_file_bytes = 64ULL * 1024 * 1024;  ///< one file
    std::size_t memory_file_bytes = 256 * 1024;          ///< larger files go to a temporary file
    std::size_t max_part_header_bytes = 8 * 1024;
    std::string temp_dir = {};  ///< "" = $TMPDIR, else /tmp
};

/// One uploaded file.
class FormFile {
  public:
    FormFile() = default;
    ~FormFile();
    FormFile(FormFile&& o) noexcept;
    FormFile& operator=(FormFile&& o) noexcept;
    FormFile(const FormFile&) = delete;
    FormFile& operator=(const FormFile&) = delete;

    std::string field;         ///< the form field's name
    std::string filename;      ///< sanitize_filename(what the client sent): display only
    std::string content_type;  ///< as the client sent it ("" = none): untrusted
    std::uint64_t size = 0;

    bool in_memory() const noexcept { return path_.empty(); }
    /// The bytes of a file kept in memory (empty for one on disk).
    std::string_view data() const noexcept { return data_; }
    /// The file holding a spilled upload: a temporary one, or where save_as moved it ("" when
    /// in memory).
    const std::string& path() const noexcept { return path_; }
    /// Writes the upload to `destination` (a rename for a spilled file, on the same file
    /// system); the temporary file is then no longer deleted.
    Result<void> save_as(const std::string& destination);

  private:
    friend class FormBuilder;
    std::string data_;
    std::string path_;
    int fd_ = -1;
    bool owned_ = true;  // delete path_ with the FormFile
};

struct Form {
    FormFields fields;
    std::vector<FormFile> files;

    /// The first text value called `name`.
    std::optional<std::string_view> value(std::string_view name) const noexcept;
    /// The first file uploaded as field `name`, or null.
    const FormFile* file(std::string_view name) const noexcept;
};

/// The form in a request whose whole body was read (not streamed).
Result<Form, http::Problem> parse_form(const http::Request& req, const FormLimits& limits = {});

/// The form in a request, reading a streamed body (req.body_stream()) as it arrives, under the
/// default limits or `limits`, which must outlive the task (keep them in a variable that lives
/// as long as the handler, or longer: GCC 12 is unreliable with temporaries across co_await).
Task<Result<Form, http::Problem>> read_form(http::Request& req);
Task<Result<Form, http::Problem>> read_form(http::Request& req, const FormLimits& limits);

}  // namespace keel::web
