-- post_backoff.lua: post.lua with clients that honour a 503 as Windows
-- clients do with Retry-After: a connection answered 503 waits
-- $BACKOFF_MS (default 1000, the run's scale for Retry-After) before its
-- next request; other answers are followed at once.
dofile(os.getenv("POST_LUA"))
local wait_ms = tonumber(os.getenv("BACKOFF_MS") or "1000")
local pause = 0
response = function(status, headers, body)
  if status == 503 then pause = wait_ms end
end
delay = function()
  local d = pause
  pause = 0
  return d
end
