--[[
  fieldMap(flat): a table from a flat {field, value, field, value, ...} reply (XINFO).
]]
local function fieldMap(flat)
  local fields = {}
  for i = 1, #flat, 2 do fields[flat[i]] = flat[i + 1] end
  return fields
end
