{
  "targets": [
    {
      "target_name": "outpost_tun",
      "sources": ["src/tun_dev.c", "src/addon.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_c": ["-std=gnu11", "-Wall", "-Wextra", "-Wshadow", "-Werror=implicit-function-declaration"]
    }
  ]
}
