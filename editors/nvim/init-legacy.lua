-- Neovim 0.8 – 0.10 (also works on 0.11): start Gatehouse with vim.lsp.start for manifest files.
local manifests = {
  'package.json', 'package-lock.json', 'npm-shrinkwrap.json', 'Cargo.toml', 'Cargo.lock',
  'pyproject.toml', 'poetry.lock', 'uv.lock', 'pylock.toml', 'pnpm-lock.yaml', 'pnpm-workspace.yaml', '.yarnrc.yml', 'yarn.lock', 'bun.lock',
  'gatehouse.toml', '*requirements*.txt', '*requirements*.in', '*/requirements/*.txt', '*/requirements/*.in',
  '*/.cargo/config.toml', '*/.cargo/config',
}
vim.api.nvim_create_autocmd({ 'BufReadPost', 'BufNewFile' }, {
  pattern = manifests,
  group = vim.api.nvim_create_augroup('gatehouse-lsp', { clear = true }),
  callback = function(args)
    local path = vim.api.nvim_buf_get_name(args.buf)
    local marker = vim.fs.find({ 'gatehouse.toml', '.git' }, { upward = true, path = vim.fs.dirname(path) })[1]
    vim.lsp.start({
      name = 'gatehouse',
      cmd = { 'gatehouse', 'lsp' },
      root_dir = marker and vim.fs.dirname(marker) or vim.fs.dirname(path),
      settings = { gatehouse = vim.empty_dict() }, -- keys of gatehouse.toml; set only what you override
    }, { bufnr = args.buf })
  end,
})
