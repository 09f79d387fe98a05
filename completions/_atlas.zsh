
#compdef atlas

_atlas_completion() {
  eval $(env _TYPER_COMPLETE_ARGS="${words[1,$CURRENT]}" _ATLAS_COMPLETE=complete_zsh atlas)
}

compdef _atlas_completion atlas

