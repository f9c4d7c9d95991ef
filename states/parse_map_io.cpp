// ItemReader, ItemBatcher and ResultWriter of a distributed Map: which fields
// each allows and what each must be (docs/distributed-map.md).
#include <initializer_list>
#include <string>

#include "states/parse_internal.h"

namespace stepwise::states::parse_detail {
namespace {

constexpr std::string_view kGetObject = "arn:aws:states:::s3:getObject";
constexpr std::string_view kListObjects = "arn:aws:states:::s3:listObjectsV2";
constexpr std::string_view kPutObject = "arn:aws:states:::s3:putObject";
constexpr double kMaxInputBytesPerBatch = 256 * 1024;

bool one_of(std::string_view v, std::initializer_list<std::string_view> allowed) {
  for (std::string_view a : allowed)
    if (a == v) return true;
  return false;
}

std::string list(std::initializer_list<std::string_view> allowed) {
  std::string s = "[";
  for (std::string_view a : allowed) {
    if (s.size() > 1) s += ", ";
    s += a;
  }
  return s + "]";
}

}  // namespace

// The helpers below need the Parser's reporting; they are local lambdas so
// that parse_internal.h keeps one entry point for this file.
void Parser::parse_map_io(MapSpec& map, const json::object& obj, const std::string& ptr, Language lang) {
  const bool distributed = map.mode == "DISTRIBUTED";
  const char* template_key = lang == Language::JsonPath ? "Parameters" : "Arguments";

  // Fields of a sub-object: unknown ones are refused by name.
  auto check_fields = [&](const json::object& o, const std::string& o_ptr, const char* what,
                          std::initializer_list<std::string_view> allowed) {
    for (const auto& kv : o) {
      if (!one_of(kv.key(), allowed))
        error(child(o_ptr, kv.key()), "The field '" + std::string(kv.key()) + "' is not supported in " + what);
    }
  };
  // A field whose value must be one of a few strings.
  auto enum_field = [&](const json::object& o, const std::string& o_ptr, std::string_view key,
                        std::initializer_list<std::string_view> allowed) -> std::optional<std::string> {
    const json::value* v = o.if_contains(key);
    if (!v) return std::nullopt;
    if (!v->is_string() || !one_of(v->get_string(), allowed)) {
      error(child(o_ptr, key), "The value of the field '" + std::string(key) + "' must be one of " + list(allowed));
      return std::nullopt;
    }
    return std::string(v->get_string());
  };
  // Parameters (JSONPath) or Arguments (JSONata) of a reader or writer.
  auto arguments = [&](const json::object& o, const std::string& o_ptr, std::optional<PayloadTemplate>& path_out,
                       std::optional<QueryTemplate>& query_out) {
    const json::value* v = o.if_contains(template_key);
    if (!v) return false;
    if (lang == Language::JsonPath) {
      if (!v->is_object()) {
        type_error(o_ptr, template_key, "an object", *v);
        return true;
      }
      path_out = payload(*v, o_ptr, template_key);
    } else {
      if (!v->is_object() && !is_jsonata_expression(*v)) {
        type_error(o_ptr, template_key, "an object or a JSONata expression", *v);
        return true;
      }
      query_out = query(*v, o_ptr, template_key);
    }
    return true;
  };
  auto section = [&](std::string_view key) -> const json::object* {
    const json::value* v = obj.if_contains(key);
    if (!v) return nullptr;
    if (!v->is_object()) {
      type_error(ptr, key, "an object", *v);
      return nullptr;
    }
    if (!distributed) {
      error(child(ptr, key), "The field '" + std::string(key) +
                                 "' is only supported when the ItemProcessor's ProcessorConfig Mode is DISTRIBUTED");
      return nullptr;
    }
    return &v->get_object();
  };

  // ---- ItemReader
  if (const json::object* reader = section("ItemReader")) {
    const std::string r_ptr = child(ptr, "ItemReader");
    check_fields(*reader, r_ptr, "an ItemReader", {"Resource", "ReaderConfig", template_key});
    ItemReaderSpec spec;
    if (const json::string* res = string_field(*reader, "Resource", r_ptr)) {
      spec.resource = std::string(*res);
      if (*res == kGetObject) {
        spec.source = ItemReaderSpec::Source::GetObject;
      } else if (*res == kListObjects) {
        spec.source = ItemReaderSpec::Source::ListObjects;
      } else {
        error(child(r_ptr, "Resource"), "The value of the field 'Resource' must be one of " +
                                            list({kGetObject, kListObjects}) + " in an ItemReader");
      }
    } else if (!reader->contains("Resource")) {
      required(r_ptr, "Resource");
    }
    const bool get_object = spec.source == ItemReaderSpec::Source::GetObject;
    if (!arguments(*reader, r_ptr, spec.parameters, spec.arguments)) required(r_ptr, template_key);
    const json::value* config_v = reader->if_contains("ReaderConfig");
    const json::object* config = nullptr;
    if (config_v && !config_v->is_object()) {
      type_error(r_ptr, "ReaderConfig", "an object", *config_v);
    } else if (config_v) {
      config = &config_v->get_object();
    }
    const std::string c_ptr = child(r_ptr, "ReaderConfig");
    if (config) {
      check_fields(*config, c_ptr, "a ReaderConfig",
                   {"InputType", "CSVHeaderLocation", "CSVHeaders", "CSVDelimiter", "MaxItems", "MaxItemsPath",
                    "ItemsPointer", "ManifestType"});
      if (auto t = enum_field(*config, c_ptr, "InputType", {"CSV", "JSON", "JSONL", "MANIFEST", "PARQUET"})) {
        if (*t == "CSV") spec.input_type = ItemReaderSpec::InputType::Csv;
        if (*t == "JSON") spec.input_type = ItemReaderSpec::InputType::Json;
        if (*t == "JSONL") spec.input_type = ItemReaderSpec::InputType::Jsonl;
        if (*t == "MANIFEST" || *t == "PARQUET")
          unsupported(child(c_ptr, "InputType"), "The InputType '" + *t + "' is not supported by Stepwise");
        if (!get_object)
          error(child(c_ptr, "InputType"),
                "The field 'InputType' is only supported with the Resource " + std::string(kGetObject));
      }
      const bool csv = spec.input_type == ItemReaderSpec::InputType::Csv;
      if (auto loc = enum_field(*config, c_ptr, "CSVHeaderLocation", {"FIRST_ROW", "GIVEN"})) {
        spec.csv_header_location =
            *loc == "GIVEN" ? ItemReaderSpec::CsvHeaderLocation::Given : ItemReaderSpec::CsvHeaderLocation::FirstRow;
      }
      if (auto d = enum_field(*config, c_ptr, "CSVDelimiter", {"COMMA", "PIPE", "SEMICOLON", "SPACE", "TAB"})) {
        spec.csv_delimiter = *d == "PIPE"        ? '|'
                             : *d == "SEMICOLON" ? ';'
                             : *d == "SPACE"     ? ' '
                             : *d == "TAB"       ? '\t'
                                                 : ',';
      }
      for (std::string_view k : {"CSVHeaderLocation", "CSVHeaders", "CSVDelimiter"}) {
        if (config->contains(k) && !csv && spec.input_type != ItemReaderSpec::InputType::None)
          error(child(c_ptr, k), "The field '" + std::string(k) + "' is only supported when the InputType is CSV");
      }
      if (const json::value* h = config->if_contains("CSVHeaders")) {
        if (!h->is_array()) {
          type_error(c_ptr, "CSVHeaders", "an array of strings", *h);
        } else {
          for (std::size_t i = 0; i < h->get_array().size(); ++i) {
            const json::value& e = h->get_array()[i];
            if (!e.is_string()) {
              error(child(child(c_ptr, "CSVHeaders"), i),
                    std::string("A CSV header must be a string, not ") + json_type_name(e));
            } else {
              spec.csv_headers.emplace_back(e.get_string());
            }
          }
          if (h->get_array().empty()) error(child(c_ptr, "CSVHeaders"), "The field 'CSVHeaders' must not be empty");
          if (spec.csv_header_location != ItemReaderSpec::CsvHeaderLocation::Given)
            error(child(c_ptr, "CSVHeaders"),
                  "The field 'CSVHeaders' is only supported when the CSVHeaderLocation is GIVEN");
        }
      } else if (spec.csv_header_location == ItemReaderSpec::CsvHeaderLocation::Given) {
        error(c_ptr, "The field 'CSVHeaders' is required when the CSVHeaderLocation is GIVEN");
      }
      if (const json::value* p = config->if_contains("ItemsPointer")) {
        if (!p->is_string()) {
          type_error(c_ptr, "ItemsPointer", "a string", *p);
        } else if (!p->get_string().empty() && p->get_string().front() != '/') {
          error(child(c_ptr, "ItemsPointer"),
                "The value of the field 'ItemsPointer' must be a JSON pointer (starting with '/')");
        } else if (spec.input_type != ItemReaderSpec::InputType::Json) {
          error(child(c_ptr, "ItemsPointer"), "The field 'ItemsPointer' is only supported when the InputType is JSON");
        } else {
          spec.items_pointer = std::string(p->get_string());
        }
      }
      spec.max_items = number_source(*config, c_ptr, "MaxItems", "MaxItemsPath", NumberRule::PositiveInteger, lang);
      if (lang == Language::Jsonata && config->contains("MaxItemsPath"))
        error(child(c_ptr, "MaxItemsPath"),
              "The field 'MaxItemsPath' is not supported in JSONata; use an expression in 'MaxItems'");
    }
    if (get_object && spec.input_type == ItemReaderSpec::InputType::None && !spec.resource.empty() &&
        !(config && config->contains("InputType"))) {
      error(config ? c_ptr : r_ptr,
            "The field 'ReaderConfig.InputType' is required with the Resource " + std::string(kGetObject));
    }
    map.item_reader = std::move(spec);
  }

  // ---- ItemBatcher
  if (const json::object* batcher = section("ItemBatcher")) {
    const std::string b_ptr = child(ptr, "ItemBatcher");
    if (lang == Language::JsonPath) {
      check_fields(*batcher, b_ptr, "an ItemBatcher",
                   {"MaxItemsPerBatch", "MaxItemsPerBatchPath", "MaxInputBytesPerBatch", "MaxInputBytesPerBatchPath",
                    "BatchInput"});
    } else {
      check_fields(*batcher, b_ptr, "an ItemBatcher", {"MaxItemsPerBatch", "MaxInputBytesPerBatch", "BatchInput"});
    }
    ItemBatcherSpec spec;
    spec.max_items_per_batch =
        number_source(*batcher, b_ptr, "MaxItemsPerBatch", "MaxItemsPerBatchPath", NumberRule::PositiveInteger, lang);
    spec.max_input_bytes_per_batch = number_source(*batcher, b_ptr, "MaxInputBytesPerBatch",
                                                   "MaxInputBytesPerBatchPath", NumberRule::PositiveInteger, lang);
    if (spec.max_input_bytes_per_batch.literal && *spec.max_input_bytes_per_batch.literal > kMaxInputBytesPerBatch) {
      error(child(b_ptr, "MaxInputBytesPerBatch"),
            "The value of the field 'MaxInputBytesPerBatch' must be no greater than 262144 (256 KiB)");
    }
    if (!spec.max_items_per_batch.present() && !spec.max_input_bytes_per_batch.present() &&
        !batcher->contains("MaxItemsPerBatch") && !batcher->contains("MaxInputBytesPerBatch")) {
      error(b_ptr,
            lang == Language::JsonPath
                ? "An ItemBatcher needs at least one of the fields 'MaxItemsPerBatch', 'MaxItemsPerBatchPath', "
                  "'MaxInputBytesPerBatch' and 'MaxInputBytesPerBatchPath'"
                : "An ItemBatcher needs at least one of the fields 'MaxItemsPerBatch' and 'MaxInputBytesPerBatch'");
    }
    if (const json::value* bi = batcher->if_contains("BatchInput")) {
      if (!bi->is_object() && !(lang == Language::Jsonata && is_jsonata_expression(*bi))) {
        type_error(b_ptr, "BatchInput", "an object", *bi);
      } else if (lang == Language::JsonPath) {
        spec.batch_input = payload(*bi, b_ptr, "BatchInput");
      } else {
        spec.batch_input_query = query(*bi, b_ptr, "BatchInput");
      }
    }
    map.item_batcher = std::move(spec);
  }

  // ---- ResultWriter
  if (const json::object* writer = section("ResultWriter")) {
    const std::string w_ptr = child(ptr, "ResultWriter");
    check_fields(*writer, w_ptr, "a ResultWriter", {"Resource", template_key, "WriterConfig"});
    ResultWriterSpec spec;
    if (const json::string* res = string_field(*writer, "Resource", w_ptr)) {
      if (*res != kPutObject) {
        error(child(w_ptr, "Resource"),
              "The value of the field 'Resource' must be " + std::string(kPutObject) + " in a ResultWriter");
      }
      spec.resource = std::string(*res);
    }
    const bool has_args = arguments(*writer, w_ptr, spec.parameters, spec.arguments);
    const bool has_resource = writer->contains("Resource");
    if (has_resource && !has_args) required(w_ptr, template_key);
    if (has_args && !has_resource) required(w_ptr, "Resource");
    if (const json::value* config_v = writer->if_contains("WriterConfig")) {
      if (!config_v->is_object()) {
        type_error(w_ptr, "WriterConfig", "an object", *config_v);
      } else {
        const std::string c_ptr = child(w_ptr, "WriterConfig");
        const json::object& config = config_v->get_object();
        check_fields(config, c_ptr, "a WriterConfig", {"Transformation", "OutputType"});
        if (auto t = enum_field(config, c_ptr, "Transformation", {"NONE", "COMPACT", "FLATTEN"})) {
          spec.transformation = *t == "NONE"      ? ResultWriterSpec::Transformation::None
                                : *t == "COMPACT" ? ResultWriterSpec::Transformation::Compact
                                                  : ResultWriterSpec::Transformation::Flatten;
        }
        if (auto o = enum_field(config, c_ptr, "OutputType", {"JSON", "JSONL"})) {
          spec.output_type = *o == "JSONL" ? ResultWriterSpec::OutputType::Jsonl : ResultWriterSpec::OutputType::Json;
        }
      }
    } else if (!has_resource && !has_args) {
      error(w_ptr,
            "A ResultWriter needs 'WriterConfig', or 'Resource' and '" + std::string(template_key) + "', or all three");
    }
    map.result_writer = std::move(spec);
  }
}

}  // namespace stepwise::states::parse_detail
