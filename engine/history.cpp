#include "engine/history.h"

#include "states/timestamp.h"

namespace stepwise {

std::string format_event_time(Nanos t) {
  // format_timestamp gives "YYYY-MM-DDTHH:MM:SS.mmmZ"; the CLI prints the
  // same instant with an explicit UTC offset.
  std::string text = states::format_timestamp(t);
  if (!text.empty() && text.back() == 'Z') {
    text.pop_back();
    text += "+00:00";
  }
  return text;
}

json::value HistoryEvent::to_json() const {
  json::object o;
  o.reserve(5);
  o["timestamp"] = format_event_time(timestamp);
  o["type"] = type;
  o["id"] = id;
  o["previousEventId"] = previous_event_id;
  for (const auto& kv : details) o[kv.key()] = kv.value();
  return o;
}

}  // namespace stepwise
