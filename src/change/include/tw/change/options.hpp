#pragma once
// Setting CompareOptions fields by name ("threshold=0.5"), for config files, the CLI and evaluations.
#include <string>
#include <string_view>
#include <vector>

#include "tw/change/compare.hpp"
#include "tw/core/result.hpp"

namespace tw::change {

// Sets one field from "name=value" (pool_sigmas takes "2:4:8", use_head 0 or 1, head_model a path). Error
// bad_option naming the field.
Status set_option(CompareOptions& opt, std::string_view assignment);
Status set_options(CompareOptions& opt, const std::vector<std::string>& assignments);

}  // namespace tw::change
