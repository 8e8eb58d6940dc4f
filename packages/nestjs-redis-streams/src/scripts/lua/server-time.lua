--[[
  The time (ms) of the server that holds a stream, for comparisons with its pending entries' idle
  times (recover-own.lua): on Cluster the script runs on the stream's node, whose clock they use.
  Reads nothing, writes nothing.

  KEYS[1] the stream

  ARGV: none

  Reply: the server's time in ms.
]]
--- @include "server-time"
return serverTime()
