-- Argo CD health check for sealgate.dev/SealedSecret (Lua 5.1, as Argo CD runs it).
-- Healthy: Ready=True for the current generation. Degraded: Ready=False for it.
-- Progressing: anything else (no status yet, or the controller has not seen this spec).
local hs = {status = "Progressing", message = "Waiting for sealgate-controller to unseal it"}
if obj.status == nil or obj.status.conditions == nil then
  return hs
end
for _, condition in ipairs(obj.status.conditions) do
  if condition.type == "Ready" then
    local seen = condition.observedGeneration or obj.status.observedGeneration
    if obj.metadata.generation ~= nil and seen ~= obj.metadata.generation then
      hs.message = "Waiting for sealgate-controller to reconcile the current generation"
      return hs
    end
    if condition.status == "True" then
      hs.status = "Healthy"
      hs.message = condition.message or ""
    elseif condition.status == "False" then
      hs.status = "Degraded"
      hs.message = condition.message or condition.reason or ""
    end
    return hs
  end
end
return hs
