-- Neovim 0.11+: Gatehouse without copying files. Paste into init.lua.
-- (Alternatively copy lsp/gatehouse.lua to ~/.config/nvim/lsp/ and call vim.lsp.enable('gatehouse').)
vim.lsp.config('gatehouse', {
  cmd = { 'gatehouse', 'lsp' },
  filetypes = { 'json', 'toml', 'requirements', 'text' },
  root_dir = function(bufnr, on_dir)
    local name = vim.fs.basename(vim.api.nvim_buf_get_name(bufnr))
    local manifest = name:match('^requirements.*%.txt$')
      or vim.tbl_contains({
        'package.json', 'package-lock.json', 'npm-shrinkwrap.json', 'Cargo.toml', 'Cargo.lock',
        'pyproject.toml', 'poetry.lock', 'uv.lock', 'gatehouse.toml',
      }, name)
    if manifest then
      on_dir(vim.fs.root(bufnr, { 'gatehouse.toml', '.git' }) or vim.fs.dirname(vim.api.nvim_buf_get_name(bufnr)))
    end
  end,
  settings = { gatehouse = vim.empty_dict() }, -- keys of gatehouse.toml; set only what you want to override
})
vim.lsp.enable('gatehouse')
