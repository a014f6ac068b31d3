// Reads the one field of an engine's build record that deserializing needs.
// The record is rainloop's own JSON (engines/cache.py); every "dla_core" in it
// holds the same value, so the first one is read rather than parsing JSON.

#include "rainloop/engine_record.h"

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

extern "C" int rl_engine_dla_core(const char* engine_path) {
    std::ifstream file(std::string(engine_path) + ".json");
    const std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    const auto skip_space = [&text](size_t i) {
        while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
        return i;
    };
    const std::string key = "\"dla_core\"";
    size_t at = text.find(key);
    if (at == std::string::npos) return -1;
    at = skip_space(at + key.size());
    if (at == text.size() || text[at] != ':') return -1;
    at = skip_space(at + 1);
    if (at == text.size() || !std::isdigit(static_cast<unsigned char>(text[at]))) return -1;  // null: a GPU engine
    return static_cast<int>(std::strtol(text.c_str() + at, nullptr, 10));
}
