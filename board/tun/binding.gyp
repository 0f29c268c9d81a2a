{
  "targets": [
    {
      "target_name": "outpost_tun",
      "sources": ["src/tun_dev.c", "src/tun_gso.c", "src/mem_trim.c", "src/io_thread.c", "src/addon.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_c": ["-std=gnu11", "-Wall", "-Wextra", "-Wshadow", "-Werror=implicit-function-declaration"]
    },
    {
      # The ESP fast path. OpenSSL comes from the running Node: its headers ship with Node
      # (include/node/openssl) and the node binary exports the symbols, so nothing is linked.
      "target_name": "outpost_esp",
      "sources": ["src/esp_sa.c", "src/flow_cache.c", "src/io_thread.c", "src/esp_addon.c", "src/tun_dev.c", "src/tun_gso.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_c": ["-std=gnu11", "-Wall", "-Wextra", "-Wshadow", "-Werror=implicit-function-declaration"]
    }
  ]
}
