-- Neovim 0.11+: Gatehouse without copying files. Paste into init.lua.
-- (Alternatively copy lsp/gatehouse.lua to ~/.config/nvim/lsp/ and call vim.lsp.enable('gatehouse').)
vim.lsp.config('gatehouse', {
  cmd = { 'gatehouse', 'lsp' },
  filetypes = { 'json', 'jsonc', 'toml', 'yaml', 'requirements', 'text' },
  root_dir = function(bufnr, on_dir)
    local path = vim.api.nvim_buf_get_name(bufnr)
    local name = vim.fs.basename(path)
    -- pip requirements as the server's walk finds them (`test-requirements.txt`, `requirements/dev.txt`)
    local requirements = (name:match('%.txt$') or name:match('%.in$'))
      and (name:lower():match('requirements') or vim.fs.basename(vim.fs.dirname(path)):lower() == 'requirements')
    -- Cargo's settings file, whose `[patch]` is checked: `.cargo/config.toml` or `.cargo/config`
    local cargo_config = (name == 'config.toml' or name == 'config') and vim.fs.basename(vim.fs.dirname(path)) == '.cargo'
    local manifest = requirements
      or cargo_config
      or vim.tbl_contains({
        'package.json', 'package-lock.json', 'npm-shrinkwrap.json', 'Cargo.toml', 'Cargo.lock',
        'pyproject.toml', 'poetry.lock', 'uv.lock', 'pylock.toml', 'pnpm-lock.yaml', 'pnpm-workspace.yaml', '.yarnrc.yml', 'yarn.lock', 'bun.lock',
        'gatehouse.toml',
      }, name)
    if manifest then
      on_dir(vim.fs.root(bufnr, { 'gatehouse.toml', '.git' }) or vim.fs.dirname(vim.api.nvim_buf_get_name(bufnr)))
    end
  end,
  settings = { gatehouse = vim.empty_dict() }, -- keys of gatehouse.toml; set only what you want to override
})
vim.lsp.enable('gatehouse')
