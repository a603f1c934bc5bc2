-- Headless Neovim test of the shipped Gatehouse configs (editors/nvim).
-- nvim --headless --clean -u test_init.lua WORKSPACE/package.json
-- env: GATEHOUSE_BIN (server binary), GATEHOUSE_REPO (repo root), GATEHOUSE_NVIM_MODE = enable | init | legacy
-- Prints one line per check and exits 0 when all passed.
local repo = assert(os.getenv('GATEHOUSE_REPO'), 'GATEHOUSE_REPO not set')
local bin = assert(os.getenv('GATEHOUSE_BIN'), 'GATEHOUSE_BIN not set')
local mode = os.getenv('GATEHOUSE_NVIM_MODE') or 'enable'
local timeout_ms = tonumber(os.getenv('GATEHOUSE_NVIM_TIMEOUT_MS') or '30000')

-- The shipped configs run `gatehouse`; put the binary under test first on PATH.
vim.env.PATH = vim.fs.dirname(bin) .. ':' .. vim.env.PATH
vim.cmd('filetype on')

if mode == 'enable' then
  vim.opt.runtimepath:prepend(repo .. '/editors/nvim') -- finds lsp/gatehouse.lua
  vim.lsp.enable('gatehouse')
elseif mode == 'init' then
  dofile(repo .. '/editors/nvim/init-0.11.lua')
elseif mode == 'legacy' then
  dofile(repo .. '/editors/nvim/init-legacy.lua')
else
  error('unknown mode ' .. mode)
end

local failures, passes = 0, 0
local function out(s)
  io.stdout:write(s .. '\n')
end
local function check(ok, name, detail)
  if ok then
    passes = passes + 1
    out('ok   nvim[' .. mode .. ']: ' .. name)
  else
    failures = failures + 1
    out('FAIL nvim[' .. mode .. ']: ' .. name .. (detail and (' — ' .. detail) or ''))
  end
  return ok
end
local function finish()
  out(string.format('nvim[%s]: %d checks passed, %d failed', mode, passes, failures))
  io.stdout:flush()
  if failures > 0 then
    vim.cmd('cquit! 1')
  else
    vim.cmd('qa!')
  end
end

local GHSA = 'GHSA-35jh-r3h4-6jhm'

local function run()
  local buf = vim.api.nvim_get_current_buf()
  local client
  check(
    vim.wait(timeout_ms, function()
      client = vim.lsp.get_clients({ bufnr = buf, name = 'gatehouse' })[1]
      return client ~= nil and client.initialized
    end, 50),
    'gatehouse attached to ' .. vim.fs.basename(vim.api.nvim_buf_get_name(buf))
  )
  if not client then
    return finish()
  end

  local function gatehouse_diags()
    return vim.tbl_filter(function(d)
      return d.source == 'gatehouse'
    end, vim.diagnostic.get(buf))
  end
  local function find(code)
    for _, d in ipairs(gatehouse_diags()) do
      if d.code == code then
        return d
      end
    end
  end

  local diag
  check(vim.wait(timeout_ms, function()
    diag = find(GHSA)
    return diag ~= nil
  end, 50), 'diagnostic ' .. GHSA .. ' published', vim.inspect(vim.diagnostic.get(buf)))
  if not diag then
    return finish()
  end
  local line = vim.api.nvim_buf_get_lines(buf, diag.lnum, diag.lnum + 1, false)[1] or ''
  check(line:find('4.17.15', 1, true) ~= nil and diag.col <= (line:find('"4.17.15"', 1, true) or -1), 'diagnostic is on the lodash requirement', line)
  check(diag.message:find('lodash', 1, true) ~= nil, 'message names the package', diag.message)
  check(diag.message:find('4.17.15', 1, true) ~= nil, 'message names the version', diag.message)
  local lsp_diag = diag.user_data and diag.user_data.lsp or {}
  check(lsp_diag.codeDescription ~= nil and type(lsp_diag.codeDescription.href) == 'string', 'diagnostic links to the advisory', vim.inspect(lsp_diag.codeDescription))
  check(diag.severity == vim.diagnostic.severity.ERROR or diag.severity == vim.diagnostic.severity.WARN, 'advisory is an error or warning', tostring(diag.severity))

  -- Hover on the requirement.
  local pos = { line = diag.lnum, character = diag.col + 1 }
  local hover = vim.lsp.buf_request_sync(buf, 'textDocument/hover', {
    textDocument = vim.lsp.util.make_text_document_params(buf),
    position = pos,
  }, 10000)
  local hover_text = ''
  for _, r in pairs(hover or {}) do
    if r.result and r.result.contents then
      local c = r.result.contents
      hover_text = hover_text .. (type(c) == 'string' and c or (c.value or vim.inspect(c)))
    end
  end
  check(hover_text:find('**Gatehouse**', 1, true) == 1, 'hover starts with **Gatehouse**', hover_text)
  check(hover_text:find(GHSA, 1, true) ~= nil, 'hover lists the advisory', hover_text)

  -- Code action: update lodash.
  local params = {
    textDocument = vim.lsp.util.make_text_document_params(buf),
    range = { start = { line = diag.lnum, character = diag.col }, ['end'] = { line = diag.end_lnum, character = diag.end_col } },
    context = { diagnostics = { lsp_diag }, only = { 'quickfix' } },
  }
  local responses = vim.lsp.buf_request_sync(buf, 'textDocument/codeAction', params, 10000) or {}
  local actions = {}
  for _, r in pairs(responses) do
    for _, a in ipairs(r.result or {}) do
      table.insert(actions, a)
    end
  end
  local update, fix_all
  for _, a in ipairs(actions) do
    if a.title and a.title:match('^Update lodash to') then
      update = a
    elseif a.title == 'Fix all Gatehouse findings in this file' then
      fix_all = a
    end
  end
  local titles = vim.tbl_map(function(a)
    return a.title
  end, actions)
  check(update ~= nil, 'quick fix "Update lodash to …" offered', vim.inspect(titles))
  check(fix_all ~= nil, '"Fix all Gatehouse findings in this file" offered', vim.inspect(titles))
  if not update then
    return finish()
  end
  check(update.kind == 'quickfix' and update.isPreferred == true, 'quick fix is a preferred quickfix', vim.inspect({ update.kind, update.isPreferred }))
  check(update.title:find('4.17.21', 1, true) ~= nil, 'quick fix targets 4.17.21', update.title)

  if not update.edit and not update.command and client.supports_method('codeAction/resolve') then
    local resolved = client.request_sync('codeAction/resolve', update, 10000, buf)
    update = resolved and resolved.result or update
  end
  if update.edit then
    vim.lsp.util.apply_workspace_edit(update.edit, client.offset_encoding)
  end
  if update.command then
    local cmd = type(update.command) == 'table' and update.command or update
    client.request_sync('workspace/executeCommand', { command = cmd.command, arguments = cmd.arguments }, 10000, buf)
  end
  local text = table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), '\n')
  check(text:find('"lodash": "4.17.21"', 1, true) ~= nil, 'buffer now requires lodash 4.17.21', text)
  check(text:find('4.17.15', 1, true) == nil, 'old version gone from the buffer', text)

  -- The server re-checks the edited buffer and drops the advisory.
  check(vim.wait(timeout_ms, function()
    return find(GHSA) == nil
  end, 50), 'diagnostic cleared after the fix', vim.inspect(gatehouse_diags()))

  -- Other JSON files are left alone.
  local other = vim.fs.dirname(vim.api.nvim_buf_get_name(buf)) .. '/settings.json'
  vim.fn.writefile({ '{"lodash": "4.17.15"}' }, other)
  vim.cmd('edit ' .. vim.fn.fnameescape(other))
  local obuf = vim.api.nvim_get_current_buf()
  vim.wait(500, function()
    return false
  end, 50)
  check(#vim.lsp.get_clients({ bufnr = obuf, name = 'gatehouse' }) == 0, 'not attached to a non-manifest JSON file')

  finish()
end

vim.api.nvim_create_autocmd('VimEnter', {
  once = true,
  callback = function()
    local ok, err = pcall(run)
    if not ok then
      check(false, 'test crashed', tostring(err))
      finish()
    end
  end,
})
