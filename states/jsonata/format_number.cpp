// $formatNumber: XPath F&O 3.1 format-number with jsonata-js's decimal format.
#include <cmath>

#include "states/jsonata/internal.h"

namespace stepwise::jsonata::detail {

Value fn_format_number(Evaluator&, std::vector<Value>& a, const Value&, const FramePtr&) {
  if (a.empty() || a[0].undefined()) return Value();
  fail("D3080", std::nullopt, std::nullopt, Value("not implemented"));
}

}  // namespace stepwise::jsonata::detail
