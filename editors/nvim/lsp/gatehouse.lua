-- Gatehouse language server for Neovim 0.11+.
-- Put this file at ~/.config/nvim/lsp/gatehouse.lua and add `vim.lsp.enable('gatehouse')` to init.lua.
-- Gatehouse attaches only to dependency manifests and lockfiles, not to every JSON/TOML file.

local manifests = {
  ['package.json'] = true,
  ['package-lock.json'] = true,
  ['npm-shrinkwrap.json'] = true,
  ['Cargo.toml'] = true,
  ['Cargo.lock'] = true,
  ['pyproject.toml'] = true,
  ['poetry.lock'] = true,
  ['uv.lock'] = true,
  ['gatehouse.toml'] = true,
}

local function is_manifest(name)
  return manifests[name] or name:match('^requirements.*%.txt$') ~= nil
end

---@type vim.lsp.Config
return {
  cmd = { 'gatehouse', 'lsp' },
  filetypes = { 'json', 'toml', 'requirements', 'text' },
  root_dir = function(bufnr, on_dir)
    local path = vim.api.nvim_buf_get_name(bufnr)
    if path == '' or not is_manifest(vim.fs.basename(path)) then
      return -- not a manifest: do not attach
    end
    local root = vim.fs.root(bufnr, { 'gatehouse.toml', '.git' }) or vim.fs.dirname(path)
    on_dir(root)
  end,
  -- Gatehouse settings use the keys of gatehouse.toml. Leave them out to let the project's
  -- gatehouse.toml decide; anything set here overrides it. Example:
  --   settings = { gatehouse = { offline = true, policy = { ['min-version-age'] = '72h' } } },
  settings = { gatehouse = vim.empty_dict() },
}
