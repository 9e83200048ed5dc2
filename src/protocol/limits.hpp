// Protocol limits that are not configurable. Configurable ones live in config::server_config.
#pragma once

#include <cstddef>

namespace chatrix::protocol {

inline constexpr std::size_t max_mark_bytes = 256;
inline constexpr std::size_t max_ids_per_frame = 1000;
inline constexpr std::size_t max_ids_per_delete = 100;
inline constexpr std::size_t max_file_id_bytes = 64;  // an attachment's id, checked loosely here
inline constexpr std::size_t max_token_bytes = 8 * 1024;
inline constexpr std::size_t max_search_fragment_chars = 64;
inline constexpr int default_search_results = 20;
inline constexpr int max_search_results = 50;
inline constexpr int default_history_page = 50;
inline constexpr int max_history_page = 200;
inline constexpr int max_previews = 200;
inline constexpr std::size_t max_username_bytes = 64;  // a lookup key, checked loosely here

}  // namespace chatrix::protocol
