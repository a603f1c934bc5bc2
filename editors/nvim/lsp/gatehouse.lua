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
  ['pylock.toml'] = true,
  ['pnpm-lock.yaml'] = true,
  ['pnpm-workspace.yaml'] = true,
  ['.yarnrc.yml'] = true,
  ['yarn.lock'] = true,
  ['bun.lock'] = true,
  ['gatehouse.toml'] = true,
}

-- pip requirements as the server's walk finds them: `requirements` anywhere in the name
-- (`test-requirements.txt`, pip-tools `.in` sources) or any .txt/.in file in a `requirements/` folder.
local function is_requirements(path)
  local name = vim.fs.basename(path)
  if not (name:match('%.txt$') or name:match('%.in$')) then
    return false
  end
  return name:lower():match('requirements') ~= nil or vim.fs.basename(vim.fs.dirname(path)):lower() == 'requirements'
end

-- Cargo's own settings file, which can `[patch]` crates: `.cargo/config.toml` or `.cargo/config`.
local function is_cargo_config(path)
  local name = vim.fs.basename(path)
  return (name == 'config.toml' or name == 'config') and vim.fs.basename(vim.fs.dirname(path)) == '.cargo'
end

local function is_manifest(path)
  return manifests[vim.fs.basename(path)] or is_requirements(path) or is_cargo_config(path)
end

---@type vim.lsp.Config
return {
  cmd = { 'gatehouse', 'lsp' },
  filetypes = { 'json', 'jsonc', 'toml', 'yaml', 'requirements', 'text' },
  root_dir = function(bufnr, on_dir)
    local path = vim.api.nvim_buf_get_name(bufnr)
    if path == '' or not is_manifest(path) then
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
