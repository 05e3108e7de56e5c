#include "jsonl_source.hpp"

#include <fstream>
#include <map>
#include <set>

#include <boost/json.hpp>

namespace tctool {
namespace {

namespace json = boost::json;

enum type_bits : unsigned {
    t_null = 1, t_string = 2, t_int = 4, t_number = 8, t_bool = 16, t_array = 32, t_object = 64,
    t_uuid = 128,    // a string holding a UUID (or 32 hex digits)
    t_time = 256,    // a string holding an ISO-8601 time
    t_any = 0xFFFF,
};

struct field_spec {
    std::string_view name;
    unsigned types;
    bool required;
};

constexpr field_spec run_fields[] = {
    {"id", t_uuid, false}, {"name", t_string, true}, {"description", t_string | t_null, false},
    {"start_time", t_time, true}, {"end_time", t_time | t_null, false}, {"duration_ms", t_number | t_null, false},
    {"session_id", t_string | t_null, false}, {"user_id", t_string | t_null, false}, {"environment", t_string, false},
    {"tags", t_array, false}, {"agent_name", t_string | t_null, false}, {"agent_id", t_string | t_null, false},
    {"agent_description", t_string | t_null, false}, {"cloud_provider", t_string | t_null, false},
    {"cloud_trace_id", t_string | t_null, false}, {"input", t_any, false}, {"output", t_any, false},
    {"steps", t_array, false}, {"total_tokens", t_int, false}, {"total_cost_usd", t_number, false},
    {"error_count", t_int, false}, {"error", t_string | t_null, false}, {"error_type", t_string | t_null, false},
    {"attributes", t_object, false}, {"should_export", t_bool, false}, {"sample_reason", t_string | t_null, false},
};

constexpr field_spec step_fields[] = {
    {"id", t_uuid, false}, {"parent_id", t_uuid | t_null, false}, {"trace_id", t_uuid, true}, {"type", t_string, true},
    {"name", t_string, true}, {"start_time", t_time, true}, {"end_time", t_time | t_null, false},
    {"duration_ms", t_number | t_null, false}, {"inputs", t_object, false}, {"outputs", t_object, false},
    {"attributes", t_object, false}, {"model_name", t_string | t_null, false}, {"model_provider", t_string | t_null, false},
    {"input_tokens", t_int | t_null, false}, {"output_tokens", t_int | t_null, false}, {"cost_usd", t_number | t_null, false},
    {"is_streaming", t_bool, false}, {"streaming_chunks", t_array, false}, {"error", t_string | t_null, false},
    {"error_type", t_string | t_null, false}, {"children", t_array, false},
};

constexpr std::string_view step_types[] = {"agent", "llm", "tool", "retrieval", "memory", "guardrail", "evaluation", "workflow", "error"};

std::string uuid_hex(std::string_view s) {
    std::string h;
    for (char c : s)
        if (c != '-') h.push_back(static_cast<char>(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c));
    return h;
}

bool is_uuid(std::string_view s) {
    if (s.size() == 36) {
        for (std::size_t i = 0; i < 36; ++i) {
            const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
            if (dash != (s[i] == '-')) return false;
        }
    } else if (s.size() != 32) {
        return false;
    }
    const std::string h = uuid_hex(s);
    return h.size() == 32 && h.find_first_not_of("0123456789abcdef") == std::string::npos;
}

std::string describe(const json::value& v) {
    std::string s = json::serialize(v);
    if (s.size() > 40) {
        s.resize(37);
        s.append("...");
    }
    return s;
}

std::string expected(unsigned types) {
    std::vector<std::string_view> names;
    if (types & t_uuid) names.push_back("a UUID string");
    if (types & t_time) names.push_back("an ISO-8601 time");
    if (types & t_string) names.push_back("a string");
    if (types & t_int) names.push_back("an integer");
    else if (types & t_number) names.push_back("a number");
    if (types & t_bool) names.push_back("true or false");
    if (types & t_array) names.push_back("an array");
    if (types & t_object) names.push_back("an object");
    if (types & t_null) names.push_back("null");
    std::string out;
    for (std::size_t i = 0; i < names.size(); ++i) out += (i ? (i + 1 == names.size() ? " or " : ", ") : "") + std::string(names[i]);
    return out;
}

bool matches(const json::value& v, unsigned types) {
    if (types == t_any) return true;
    if (v.is_null()) return types & t_null;
    if (v.is_string()) {
        if (types & t_string) return true;
        if ((types & t_uuid) && is_uuid(v.get_string())) return true;
        if ((types & t_time) && parse_iso_time(v.get_string())) return true;
        return false;
    }
    if (v.is_int64() || v.is_uint64()) return types & (t_int | t_number);
    if (v.is_double()) return (types & t_number) || ((types & t_int) && v.get_double() == static_cast<double>(static_cast<std::int64_t>(v.get_double())));
    if (v.is_bool()) return types & t_bool;
    if (v.is_array()) return types & t_array;
    return types & t_object;
}

struct checker {
    std::size_t line;
    std::vector<line_problem>& problems;
    void add(const std::string& path, const std::string& msg) { problems.push_back({line, path + ": " + msg}); }

    template <std::size_t N>
    bool object(const json::object& o, const field_spec (&spec)[N], const std::string& prefix) {
        const std::size_t before = problems.size();
        for (const field_spec& f : spec) {
            auto it = o.find(f.name);
            const std::string path = prefix + std::string(f.name);
            if (it == o.end()) {
                if (f.required) add(path, "required field is missing");
                continue;
            }
            if (!matches(it->value(), f.types)) add(path, "expected " + expected(f.types) + ", got " + describe(it->value()));
        }
        for (const auto& kv : o) {
            bool known = false;
            for (const field_spec& f : spec) known |= f.name == kv.key();
            if (!known) add(prefix + std::string(kv.key()), "unknown field");
        }
        return problems.size() == before;
    }

    void step(const json::value& v, const std::string& path, int depth) {
        if (!v.is_object()) return add(path, "expected a step object, got " + describe(v));
        if (depth > 64) return add(path, "steps nested deeper than 64");
        const json::object& o = v.get_object();
        object(o, step_fields, path + ".");
        if (auto it = o.find("type"); it != o.end() && it->value().is_string()) {
            bool ok = false;
            for (std::string_view t : step_types) ok |= it->value().get_string() == t;
            if (!ok) add(path + ".type", "unknown step type " + describe(it->value()));
        }
        if (auto it = o.find("streaming_chunks"); it != o.end() && it->value().is_array())
            for (std::size_t i = 0; i < it->value().get_array().size(); ++i)
                if (!it->value().get_array()[i].is_string()) add(path + ".streaming_chunks[" + std::to_string(i) + "]", "expected a string");
        if (auto it = o.find("children"); it != o.end() && it->value().is_array()) {
            std::size_t i = 0;
            for (const json::value& c : it->value().get_array()) step(c, path + ".children[" + std::to_string(i++) + "]", depth + 1);
        }
    }
};

// ------------------------------------------------------------------ conversion to spans

std::string str(const json::object& o, std::string_view k) {
    auto it = o.find(k);
    return it != o.end() && it->value().is_string() ? std::string(it->value().get_string()) : std::string();
}

const json::value* get(const json::object& o, std::string_view k) {
    auto it = o.find(k);
    return it == o.end() || it->value().is_null() ? nullptr : &it->value();
}

std::int64_t time_of(const json::object& o, std::string_view k, std::int64_t fallback) {
    if (auto t = parse_iso_time(str(o, k))) return *t;
    return fallback;
}

void copy_object(const json::object& from, json::object& to) {
    for (const auto& kv : from) to[kv.key()] = kv.value();
}

void step_to_spans(const json::object& st, const std::string& trace_id, const std::string& parent, const json::object& resource,
                   std::vector<span_record>& out) {
    span_record s;
    s.trace_id = trace_id;
    s.span_id = uuid_hex(str(st, "id")).substr(0, 16);
    s.parent_id = parent;
    s.name = str(st, "name");
    s.start_ns = time_of(st, "start_time", 0);
    s.end_ns = time_of(st, "end_time", s.start_ns);
    if (const json::value* a = get(st, "attributes"); a && a->is_object()) copy_object(a->get_object(), s.attributes);
    s.attributes["tracecraft.step.type"] = str(st, "type");
    if (const json::value* v = get(st, "inputs"); v && v->is_object() && !v->get_object().empty())
        s.attributes["input.value"] = json::serialize(*v);
    if (const json::value* v = get(st, "outputs"); v && v->is_object() && !v->get_object().empty())
        s.attributes["output.value"] = json::serialize(*v);
    if (const json::value* v = get(st, "model_name")) s.attributes["gen_ai.request.model"] = *v;
    if (const json::value* v = get(st, "model_provider")) s.attributes["gen_ai.provider.name"] = *v;
    if (const json::value* v = get(st, "input_tokens")) s.attributes["gen_ai.usage.input_tokens"] = *v;
    if (const json::value* v = get(st, "output_tokens")) s.attributes["gen_ai.usage.output_tokens"] = *v;
    if (const json::value* v = get(st, "cost_usd")) s.attributes["tracecraft.cost_usd"] = *v;
    if (const json::value* v = get(st, "error")) {
        s.status_code = 2;
        s.status_message = v->is_string() ? std::string(v->get_string()) : json::serialize(*v);
        if (const json::value* t = get(st, "error_type")) s.attributes["error.type"] = *t;
    }
    s.resource = resource;
    s.service = str(resource, "service.name");
    s.scope = "tracecraft.jsonl";
    derive_fields(s);
    const std::string id = s.span_id;
    out.push_back(std::move(s));
    if (const json::value* c = get(st, "children"); c && c->is_array())
        for (const json::value& child : c->get_array())
            if (child.is_object()) step_to_spans(child.get_object(), trace_id, id, resource, out);
}

} // namespace

void validate_line(std::string_view line, std::size_t line_no, std::vector<line_problem>& problems) {
    boost::system::error_code ec;
    const json::value v = json::parse(line, ec);
    if (ec) return problems.push_back({line_no, "not valid JSON: " + ec.message()});
    if (!v.is_object()) return problems.push_back({line_no, "expected a run object, got " + describe(v)});
    checker c{line_no, problems};
    const json::object& o = v.get_object();
    c.object(o, run_fields, "");
    if (auto it = o.find("tags"); it != o.end() && it->value().is_array())
        for (std::size_t i = 0; i < it->value().get_array().size(); ++i)
            if (!it->value().get_array()[i].is_string()) c.add("tags[" + std::to_string(i) + "]", "expected a string");
    if (auto it = o.find("steps"); it != o.end() && it->value().is_array()) {
        std::size_t i = 0;
        for (const json::value& s : it->value().get_array()) c.step(s, "steps[" + std::to_string(i++) + "]", 0);
    }
}

void run_to_spans(const json::object& run, std::vector<span_record>& out) {
    std::string trace_id = uuid_hex(str(run, "id"));
    if (trace_id.size() != 32) {   // "id" may be left out (the model's default is a random UUID): one from the line
        const std::string text = json::serialize(run);
        char buf[33];
        std::uint64_t h1 = 0xcbf29ce484222325ull, h2 = 0x84222325cbf29ce4ull;
        for (unsigned char c : text) {
            h1 = (h1 ^ c) * 0x100000001b3ull;
            h2 = (h2 ^ c) * 0x100000001b3ull + 1;
        }
        std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(h1), static_cast<unsigned long long>(h2));
        trace_id = buf;
    }
    json::object resource;
    if (const json::value* e = get(run, "environment")) resource["deployment.environment.name"] = *e;
    if (const json::value* a = get(run, "attributes"); a && a->is_object())
        if (const json::value* sn = get(a->get_object(), "service.name")) resource["service.name"] = *sn;
    const json::array empty;
    const json::value* steps_v = get(run, "steps");
    const json::array& steps = steps_v && steps_v->is_array() ? steps_v->get_array() : empty;
    // The run is the root span. A TraceCraft C++ line names it as its top-level steps' parent;
    // a Python SDK line has no root span (top-level steps have no parent): one is made from the
    // trace id, as the Python receiver maps ids.
    std::set<std::string> step_ids;
    std::string root_id;
    for (const json::value& s : steps)
        if (s.is_object()) step_ids.insert(uuid_hex(str(s.get_object(), "id")).substr(0, 16));
    for (const json::value& s : steps)
        if (s.is_object())
            if (std::string p = uuid_hex(str(s.get_object(), "parent_id")).substr(0, 16); !p.empty() && !step_ids.count(p)) {
                root_id = p;
                break;
            }
    if (root_id.empty()) root_id = trace_id.substr(0, 16);
    span_record root;
    root.trace_id = trace_id;
    root.span_id = root_id;
    root.name = str(run, "name");
    root.start_ns = time_of(run, "start_time", 0);
    root.end_ns = time_of(run, "end_time", root.start_ns);
    if (const json::value* a = get(run, "attributes"); a && a->is_object()) copy_object(a->get_object(), root.attributes);
    root.attributes["tracecraft.step.type"] = str(run, "agent_name").empty() ? "workflow" : "agent";
    if (const json::value* v = get(run, "session_id")) root.attributes["session.id"] = *v;
    if (const json::value* v = get(run, "user_id")) root.attributes["user.id"] = *v;
    if (const json::value* v = get(run, "tags"); v && v->is_array() && !v->get_array().empty()) root.attributes["tag.tags"] = *v;
    if (const json::value* v = get(run, "description")) root.attributes["tracecraft.run.description"] = *v;
    if (const json::value* v = get(run, "input")) root.attributes["input.value"] = v->is_string() ? *v : json::value(json::serialize(*v));
    if (const json::value* v = get(run, "output")) root.attributes["output.value"] = v->is_string() ? *v : json::value(json::serialize(*v));
    if (const json::value* v = get(run, "error")) {
        root.status_code = 2;
        root.status_message = v->is_string() ? std::string(v->get_string()) : json::serialize(*v);
        if (const json::value* t = get(run, "error_type")) root.attributes["error.type"] = *t;
    }
    root.resource = resource;
    root.service = str(resource, "service.name");
    root.scope = "tracecraft.jsonl";
    derive_fields(root);
    root.kind = str(root.attributes, "tracecraft.step.type");
    out.push_back(std::move(root));
    for (const json::value& s : steps)
        if (s.is_object()) step_to_spans(s.get_object(), trace_id, root_id, resource, out);
}

namespace {

std::string uuid_of_hex(const std::string& hex32) {
    return hex32.substr(0, 8) + "-" + hex32.substr(8, 4) + "-" + hex32.substr(12, 4) + "-" + hex32.substr(16, 4) + "-" + hex32.substr(20, 12);
}
std::string span_uuid(const std::string& span_id) { return uuid_of_hex(span_id + "0000000000000000"); }

json::value or_null(const json::object& a, std::string_view k) {
    auto it = a.find(k);
    return it == a.end() ? json::value(nullptr) : it->value();
}

/// input.value / output.value back into an object (a JSON object text as itself, else {key: text}).
json::object io_object(const json::object& a, std::string_view attr, std::string_view key) {
    auto it = a.find(attr);
    if (it == a.end()) return {};
    if (it->value().is_string()) {
        boost::system::error_code ec;
        json::value v = json::parse(it->value().get_string(), ec);
        if (!ec && v.is_object()) return std::move(v.get_object());
    }
    json::object o;
    o[key] = it->value();
    return o;
}

constexpr std::string_view field_attributes[] = {"tracecraft.step.type", "input.value", "output.value", "gen_ai.request.model",
                                                 "gen_ai.provider.name", "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens",
                                                 "tracecraft.cost_usd", "error.type"};

json::object step_object(const span_record& s, const std::string& trace_uuid, bool has_parent,
                         const std::multimap<std::string, const span_record*>& children) {
    json::object o;
    o["id"] = span_uuid(s.span_id);
    o["parent_id"] = has_parent ? json::value(span_uuid(s.parent_id)) : json::value(nullptr);
    o["trace_id"] = trace_uuid;
    bool known = false;
    for (std::string_view t : step_types) known |= s.kind == t;
    o["type"] = known ? s.kind : std::string("workflow");
    o["name"] = s.name;
    o["start_time"] = iso_time(s.start_ns);
    o["end_time"] = iso_time(s.end_ns);
    o["duration_ms"] = static_cast<double>(s.duration_ns()) / 1e6;
    o["inputs"] = io_object(s.attributes, "input.value", "input");
    o["outputs"] = io_object(s.attributes, "output.value", "output");
    json::object attrs;
    for (const auto& kv : s.attributes) {
        bool field = false;
        for (std::string_view f : field_attributes) field |= kv.key() == f;
        if (!field) attrs[kv.key()] = kv.value();
    }
    o["attributes"] = std::move(attrs);
    o["model_name"] = s.model.empty() ? json::value(nullptr) : json::value(s.model);
    o["model_provider"] = or_null(s.attributes, "gen_ai.provider.name");
    o["input_tokens"] = s.input_tokens ? json::value(*s.input_tokens) : json::value(nullptr);
    o["output_tokens"] = s.output_tokens ? json::value(*s.output_tokens) : json::value(nullptr);
    o["cost_usd"] = s.cost_usd ? json::value(*s.cost_usd) : json::value(nullptr);
    o["is_streaming"] = false;
    o["streaming_chunks"] = json::array();
    o["error"] = s.status_code == 2 ? json::value(s.status_message) : json::value(nullptr);
    o["error_type"] = s.status_code == 2 ? or_null(s.attributes, "error.type") : json::value(nullptr);
    json::array kids;
    auto [b, e] = children.equal_range(s.span_id);
    for (auto it = b; it != e; ++it) kids.push_back(step_object(*it->second, trace_uuid, true, children));
    o["children"] = std::move(kids);
    return o;
}

} // namespace

std::string render_run_line(const trace_summary& t, const std::vector<span_record>& spans) {
    const std::string trace_uuid = uuid_of_hex(t.trace_id);
    std::set<std::string> ids;
    for (const span_record& s : spans) ids.insert(s.span_id);
    std::multimap<std::string, const span_record*> children;
    const span_record* root = nullptr;
    std::vector<const span_record*> orphans;
    for (const span_record& s : spans) {
        if (s.span_id == t.root_span_id) root = &s;
        else if (!s.parent_id.empty() && ids.count(s.parent_id)) children.emplace(s.parent_id, &s);
        else orphans.push_back(&s);
    }
    json::object run;
    const json::object empty;
    const json::object& ra = root ? root->attributes : empty;
    run["id"] = trace_uuid;
    run["name"] = t.name;
    run["description"] = or_null(ra, "tracecraft.run.description");
    run["start_time"] = iso_time(t.start_ns);
    run["end_time"] = iso_time(t.end_ns);
    run["duration_ms"] = static_cast<double>(t.duration_ns()) / 1e6;
    run["session_id"] = t.session_id.empty() ? json::value(nullptr) : json::value(t.session_id);
    run["user_id"] = t.user_id.empty() ? json::value(nullptr) : json::value(t.user_id);
    json::value env = root ? or_null(root->resource, "deployment.environment.name") : json::value(nullptr);
    run["environment"] = env.is_string() ? env : json::value("development");
    boost::system::error_code ec;
    json::value tags = json::parse(t.tags_json.empty() ? "[]" : t.tags_json, ec);
    run["tags"] = ec || !tags.is_array() ? json::value(json::array()) : tags;
    run["agent_name"] = root && root->kind == "agent" ? json::value(root->name) : json::value(nullptr);
    for (const char* k : {"agent_id", "agent_description", "cloud_provider", "cloud_trace_id"}) run[k] = nullptr;
    auto io = [&](std::string_view attr) {
        auto it = ra.find(attr);
        return it == ra.end() ? json::value(nullptr) : it->value();
    };
    run["input"] = io("input.value");
    run["output"] = io("output.value");
    json::array steps;
    if (root) {
        auto [b, e] = children.equal_range(root->span_id);
        for (auto it = b; it != e; ++it) steps.push_back(step_object(*it->second, trace_uuid, true, children));
    }
    for (const span_record* o : orphans) steps.push_back(step_object(*o, trace_uuid, false, children));
    run["steps"] = std::move(steps);
    run["total_tokens"] = t.total_tokens();
    run["total_cost_usd"] = t.cost_usd;
    run["error_count"] = t.error_count;
    run["error"] = root && root->status_code == 2 ? json::value(root->status_message) : json::value(nullptr);
    run["error_type"] = root && root->status_code == 2 ? or_null(ra, "error.type") : json::value(nullptr);
    json::object attrs;
    attrs["imported_from"] = "otlp";
    if (!t.service.empty()) attrs["service.name"] = t.service;
    run["attributes"] = std::move(attrs);
    run["should_export"] = true;
    run["sample_reason"] = nullptr;
    return json::serialize(run);
}

jsonl_contents read_jsonl(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw input_error("cannot read '" + path + "'");
    jsonl_contents c;
    std::string line;
    while (std::getline(in, line)) {
        ++c.lines;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.find_first_not_of(" \t") == std::string::npos) continue;
        const std::size_t before = c.problems.size();
        validate_line(line, c.lines, c.problems);
        if (c.problems.size() != before) continue;
        const json::value v = json::parse(line);
        run_to_spans(v.get_object(), c.spans);
        ++c.runs;
    }
    if (in.bad()) throw input_error("error reading '" + path + "'");
    return c;
}

} // namespace tctool
