; EdgeMind Windows installer: NSIS 3 (3.08 or newer), Modern UI 2, Unicode. Per-user, never needs admin.
;
; Compile (from any folder; makensis changes into installer/ first, so give absolute paths):
;
;   makensis -DVERSION=0.1.0 -DBUNDLE_DIR=C:\src\edgemind\dist\EdgeMind -DMODELS_DIR=C:\src\edgemind\dist\models ^
;            -DOUTFILE=C:\src\edgemind\dist\EdgeMind-0.1.0-setup.exe installer\edgemind.nsi
;
; Defines:
;   VERSION     required: the version shown to users ("0.1.0"); VIProductVersion takes its numeric parts, padded to 4.
;   BUNDLE_DIR  required: the PyInstaller one-folder bundle: CLI_EXE, GUI_EXE and _internal\ (nothing else at its top).
;   MODELS_DIR  required: the bundled model files and a SHA256SUMS file listing them (GNU sha256sum format, names
;               relative to MODELS_DIR with forward slashes). The uninstaller removes only the files SHA256SUMS lists.
;   OUTFILE     optional: the installer to write (its folder must exist); default EdgeMind-<VERSION>-setup.exe next to
;               BUNDLE_DIR.
;   CLI_EXE     optional: the console program (CLI and API server), default edgemind.exe.
;   GUI_EXE     optional: the windowed desktop app, default edgemind-gui.exe. It cannot be EdgeMind.exe: Windows file
;               names ignore case, so EdgeMind.exe and edgemind.exe would be one file.
;   ICON        optional: an .ico for the installer and uninstaller (default: the stock Modern UI icons).
;   SIGN_CMD    optional: a command that signs a PE file in place; %1 is the file. When given, makensis runs it on the
;               uninstaller (!uninstfinalize, before it is packed into the installer) and on the installer (!finalize),
;               and fails the build when it exits non-zero. Example:  -DSIGN_CMD="python C:\src\edgemind\installer\sign \"%1\""
;               installer/sign signs with signtool or osslsigncode when EDGEMIND_SIGN_CERT and EDGEMIND_SIGN_PASSWORD
;               are set, and does nothing (exit 0) otherwise.
;
; Installer command line (besides NSIS's own /S and /D=DIR, which must come last):
;   /MODELSDIR=DIR   the models folder (default: the one recorded by an earlier install, else %LOCALAPPDATA%\EdgeMind\models)
; Uninstaller command line (besides /S):
;   /REMOVEDATA      remove the data folder %LOCALAPPDATA%\EdgeMind (conversations, settings, audit log) without asking
;   /REMOVEMODELS    remove the model files the installer copied, without asking
; Without these, a silent uninstall keeps both, and an interactive one asks (default answer: No) for each.

; A 64-bit installer (EdgeMind runs only on 64-bit Windows): it also runs under a 64-bit-only Wine, as in the tests.
Target amd64-unicode
ManifestDPIAware true
; Non-solid LZMA so that the models can be stored uncompressed: quantized GGUF weights and the MiniLM zip shrink by a
; few percent at best, and LZMA over ~600 MB of them costs minutes of build time and a slower install.
SetCompressor lzma

!ifndef VERSION
  !error "VERSION is not defined: makensis -DVERSION=0.1.0 -DBUNDLE_DIR=... -DMODELS_DIR=... installer\edgemind.nsi"
!endif
!ifndef BUNDLE_DIR
  !error "BUNDLE_DIR is not defined: -DBUNDLE_DIR=<the PyInstaller one-folder bundle, e.g. dist\EdgeMind>"
!endif
!ifndef MODELS_DIR
  !error "MODELS_DIR is not defined: -DMODELS_DIR=<a folder of model files with SHA256SUMS, e.g. dist\models>"
!endif
!ifndef CLI_EXE
  !define CLI_EXE "edgemind.exe"
!endif
!ifndef GUI_EXE
  !define GUI_EXE "edgemind-gui.exe"
!endif
!ifndef OUTFILE
  !define OUTFILE "${BUNDLE_DIR}\..\EdgeMind-${VERSION}-setup.exe"
!endif
!if ! /FileExists "${BUNDLE_DIR}\${CLI_EXE}"
  !error "BUNDLE_DIR (${BUNDLE_DIR}) has no ${CLI_EXE}"
!endif
!if ! /FileExists "${BUNDLE_DIR}\${GUI_EXE}"
  !error "BUNDLE_DIR (${BUNDLE_DIR}) has no ${GUI_EXE} (set -DGUI_EXE=... if the bundle names it otherwise)"
!endif
!if ! /FileExists "${MODELS_DIR}\SHA256SUMS"
  !error "MODELS_DIR (${MODELS_DIR}) has no SHA256SUMS: the uninstaller needs it to know which files it installed"
!endif

; VIProductVersion wants exactly four numbers: "0.1.0" -> 0.1.0.0; a suffix ("0.2.0rc1") keeps its leading digits.
!searchparse /noerrors "${VERSION}" "" _EM_V1 "." _EM_V2 "." _EM_V3 "." _EM_V4
!ifndef _EM_V2
  !define _EM_V2 0
!endif
!ifndef _EM_V3
  !define _EM_V3 0
!endif
!ifndef _EM_V4
  !define _EM_V4 0
!endif
!define /math _EM_N1 ${_EM_V1} + 0
!define /math _EM_N2 ${_EM_V2} + 0
!define /math _EM_N3 ${_EM_V3} + 0
!define /math _EM_N4 ${_EM_V4} + 0
!define VERSION_4 "${_EM_N1}.${_EM_N2}.${_EM_N3}.${_EM_N4}"

!define APP_NAME "EdgeMind"
!define APP_KEY "Software\EdgeMind"
!define UNINST_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\EdgeMind"
!define RUN_KEY "Software\Microsoft\Windows\CurrentVersion\Run"
!define UNINSTALLER "uninstall.exe"
!define STARTMENU_DIR "$SMPROGRAMS\EdgeMind"

!ifdef SIGN_CMD
  ; %1 is the file makensis just wrote (for !uninstfinalize: the uninstaller, before it goes into the installer).
  !uninstfinalize `${SIGN_CMD}` = 0
  !finalize `${SIGN_CMD}` = 0
!endif

!include MUI2.nsh
!include LogicLib.nsh
!include Sections.nsh
!include FileFunc.nsh
!include WordFunc.nsh
!include WinVer.nsh
!include x64.nsh

Name "${APP_NAME}"
OutFile "${OUTFILE}"
InstallDir "$LOCALAPPDATA\Programs\EdgeMind"
InstallDirRegKey HKCU "${APP_KEY}" "InstallDir"
RequestExecutionLevel user
BrandingText "${APP_NAME} ${VERSION}"
ShowInstDetails show
ShowUninstDetails show

Var ModelsDir   ; where the "Bundled models" component goes
Var DataDir     ; %LOCALAPPDATA%\EdgeMind, the app's data folder (platformdirs.user_data_dir("EdgeMind", appauthor=False))
Var RemoveData  ; uninstaller: 1 to remove the data folder
Var RemoveModels ; uninstaller: 1 to remove the installed model files

; ---------------------------------------------------------------------------------------------------------- pages
!ifdef ICON
  !define MUI_ICON "${ICON}"
  !define MUI_UNICON "${ICON}"
!endif
!define MUI_ABORTWARNING
!define MUI_COMPONENTSPAGE_SMALLDESC

!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_COMPONENTS
!insertmacro MUI_PAGE_DIRECTORY

; A second directory page, on its own variable, for the models folder (skipped when the component is off).
!define MUI_PAGE_CUSTOMFUNCTION_PRE ModelsPagePre
!define MUI_PAGE_CUSTOMFUNCTION_LEAVE ModelsPageLeave
!define MUI_DIRECTORYPAGE_VARIABLE $ModelsDir
!define MUI_PAGE_HEADER_TEXT "Models folder"
!define MUI_PAGE_HEADER_SUBTEXT "Choose where EdgeMind keeps its model files."
!define MUI_DIRECTORYPAGE_TEXT_TOP "EdgeMind's bundled models (several hundred MB) will be copied to this folder. It may be on another drive. Uninstalling EdgeMind keeps it unless you ask otherwise."
!define MUI_DIRECTORYPAGE_TEXT_DESTINATION "Models folder"
!insertmacro MUI_PAGE_DIRECTORY

!insertmacro MUI_PAGE_INSTFILES
!define MUI_FINISHPAGE_RUN "$INSTDIR\${GUI_EXE}"
!define MUI_FINISHPAGE_RUN_TEXT "Start EdgeMind"
!insertmacro MUI_PAGE_FINISH

!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES

!insertmacro MUI_LANGUAGE "English"

VIProductVersion "${VERSION_4}"
VIAddVersionKey "ProductName" "${APP_NAME}"
VIAddVersionKey "CompanyName" "EdgeMind"
VIAddVersionKey "FileDescription" "EdgeMind installer"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "LegalCopyright" "Copyright (c) EdgeMind contributors. MIT License."

; ------------------------------------------------------------------------------------------- shared by both halves
; A running program cannot be opened for writing on Windows, so this finds a running EdgeMind (the desktop app, the
; tray, an `edgemind serve`) without touching its files; stock NSIS has no process list.
!macro EM_ENSURE_NOT_RUNNING_FN prefix
Function ${prefix}EnsureNotRunning
  Push $R0
  Push $R1
  Push $R2
  StrCpy $R2 0
  check:
    StrCpy $R0 ""
    ${If} ${FileExists} "$INSTDIR\${GUI_EXE}"
      ClearErrors
      FileOpen $R1 "$INSTDIR\${GUI_EXE}" a
      ${If} ${Errors}
        StrCpy $R0 "${GUI_EXE}"
      ${Else}
        FileClose $R1
      ${EndIf}
    ${EndIf}
    ${If} ${FileExists} "$INSTDIR\${CLI_EXE}"
      ClearErrors
      FileOpen $R1 "$INSTDIR\${CLI_EXE}" a
      ${If} ${Errors}
        StrCpy $R0 "$R0 ${CLI_EXE}"
      ${Else}
        FileClose $R1
      ${EndIf}
    ${EndIf}
    ${If} $R0 != ""
      ${If} ${Silent}
        ; nobody to ask: give a closing app ten seconds, then fail (exit code 2)
        IntOp $R2 $R2 + 1
        ${If} $R2 <= 10
          Sleep 1000
          Goto check
        ${EndIf}
      ${EndIf}
      MessageBox MB_RETRYCANCEL|MB_ICONEXCLAMATION "EdgeMind is running ($R0).$\r$\n$\r$\nQuit it (right-click the EdgeMind icon in the tray, then Quit) and close any window running the edgemind command, then click Retry." /SD IDCANCEL IDRETRY check
      DetailPrint "EdgeMind is still running ($R0); nothing was changed."
      Pop $R2
      Pop $R1
      Pop $R0
      Abort "EdgeMind is running: quit it and try again."
    ${EndIf}
  Pop $R2
  Pop $R1
  Pop $R0
FunctionEnd
!macroend
!insertmacro EM_ENSURE_NOT_RUNNING_FN ""
!insertmacro EM_ENSURE_NOT_RUNNING_FN "un."

; "D:\models\" -> "D:\models" (a drive root keeps its backslash); $R9 in, $R9 out.
!macro EM_STRIP_SLASH_FN prefix
Function ${prefix}StripTrailingSlash
  Push $R8
  StrCpy $R8 $R9 1 -1
  ${If} $R8 == "\"
    StrLen $R8 $R9
    ${If} $R8 > 3
      StrCpy $R9 $R9 -1
    ${EndIf}
  ${EndIf}
  Pop $R8
FunctionEnd
!macroend
!insertmacro EM_STRIP_SLASH_FN ""
!insertmacro EM_STRIP_SLASH_FN "un."

; ---------------------------------------------------------------------------------------------------- components
Section "EdgeMind (required)" SecApp
  SectionIn RO
  Call EnsureNotRunning

  SetOutPath "$INSTDIR"
  ; An update replaces the whole bundle: files a newer PyInstaller build no longer has must not linger.
  RMDir /r "$INSTDIR\_internal"
  File /r "${BUNDLE_DIR}\*"
  WriteUninstaller "$INSTDIR\${UNINSTALLER}"

  CreateDirectory "${STARTMENU_DIR}"
  CreateShortcut "${STARTMENU_DIR}\EdgeMind.lnk" "$INSTDIR\${GUI_EXE}" "" "$INSTDIR\${GUI_EXE}" 0
  CreateShortcut "${STARTMENU_DIR}\Uninstall EdgeMind.lnk" "$INSTDIR\${UNINSTALLER}"

  WriteRegStr HKCU "${APP_KEY}" "InstallDir" "$INSTDIR"
  WriteRegStr HKCU "${APP_KEY}" "Version" "${VERSION}"
  ; The start-with-Windows component writes it again when it is selected (.onInit selects it when it was on).
  DeleteRegValue HKCU "${RUN_KEY}" "EdgeMind"

  WriteRegStr HKCU "${UNINST_KEY}" "DisplayName" "${APP_NAME}"
  WriteRegStr HKCU "${UNINST_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINST_KEY}" "Publisher" "EdgeMind"
  WriteRegStr HKCU "${UNINST_KEY}" "UninstallString" '"$INSTDIR\${UNINSTALLER}"'
  WriteRegStr HKCU "${UNINST_KEY}" "QuietUninstallString" '"$INSTDIR\${UNINSTALLER}" /S'
  WriteRegStr HKCU "${UNINST_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINST_KEY}" "DisplayIcon" "$INSTDIR\${GUI_EXE},0"
  WriteRegDWORD HKCU "${UNINST_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINST_KEY}" "NoRepair" 1
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  WriteRegDWORD HKCU "${UNINST_KEY}" "EstimatedSize" "$0"
SectionEnd

Section "Bundled models" SecModels
  ; $ModelsDir comes from the models page, /MODELSDIR= or an earlier install.
  DetailPrint "Models folder: $ModelsDir"
  SetOutPath "$ModelsDir"
  SetOverwrite ifdiff
  SetCompress off
  File /r "${MODELS_DIR}\*"
  SetCompress auto
  SetOverwrite on
  SetOutPath "$INSTDIR"
  WriteRegStr HKCU "${APP_KEY}" "ModelsDir" "$ModelsDir"
  Call WriteModelsDirSetting
SectionEnd

Section /o "Start EdgeMind with Windows (in the tray)" SecAutostart
  WriteRegStr HKCU "${RUN_KEY}" "EdgeMind" '"$INSTDIR\${GUI_EXE}" --tray'
SectionEnd

!insertmacro MUI_FUNCTION_DESCRIPTION_BEGIN
  !insertmacro MUI_DESCRIPTION_TEXT ${SecApp} "The EdgeMind desktop app, the edgemind command and the local API server."
  !insertmacro MUI_DESCRIPTION_TEXT ${SecModels} "The small language models EdgeMind answers with, copied to a folder you choose (it may be on another drive)."
  !insertmacro MUI_DESCRIPTION_TEXT ${SecAutostart} "Start EdgeMind in the notification area (tray) when you sign in to Windows."
!insertmacro MUI_FUNCTION_DESCRIPTION_END

; ----------------------------------------------------------------------------------------------------- installer
Function .onInit
  ${IfNot} ${RunningX64}
    MessageBox MB_OK|MB_ICONSTOP "EdgeMind needs 64-bit Windows." /SD IDOK
    Abort
  ${EndIf}
  ${IfNot} ${AtLeastWin10}
    MessageBox MB_OK|MB_ICONSTOP "EdgeMind needs Windows 10 or newer." /SD IDOK
    Abort
  ${EndIf}

  StrCpy $DataDir "$LOCALAPPDATA\EdgeMind"
  ReadRegStr $ModelsDir HKCU "${APP_KEY}" "ModelsDir"
  ${If} $ModelsDir == ""
    StrCpy $ModelsDir "$DataDir\models"
  ${EndIf}
  ${GetParameters} $R0
  ; GetOptions skips a whole option in quotes ("/MODELSDIR=C:\my models", as callers quote an argument with spaces);
  ; no path contains a quote, so drop them all
  ${WordReplace} $R0 '"' "" "+" $R0
  ClearErrors
  ${GetOptions} $R0 "/MODELSDIR=" $R1
  ${IfNot} ${Errors}
  ${AndIf} $R1 != ""
    StrCpy $ModelsDir $R1
  ${EndIf}
  StrCpy $R9 $ModelsDir
  Call StripTrailingSlash
  StrCpy $ModelsDir $R9

  ; keep "start with Windows" as it was, also for a silent update
  ReadRegStr $R2 HKCU "${RUN_KEY}" "EdgeMind"
  ${If} $R2 != ""
    !insertmacro SelectSection ${SecAutostart}
  ${EndIf}
FunctionEnd

Function ModelsPagePre
  ${IfNot} ${SectionIsSelected} ${SecModels}
    Abort ; skips the page
  ${EndIf}
FunctionEnd

Function ModelsPageLeave
  ; The program folder is replaced on every update and emptied on uninstall: models must live elsewhere.
  StrCpy $R9 $ModelsDir
  Call StripTrailingSlash
  StrCpy $ModelsDir $R9
  StrLen $R1 "$INSTDIR"
  StrCpy $R2 $ModelsDir $R1
  StrCpy $R3 $ModelsDir 1 $R1
  ${If} $R2 == $INSTDIR
    ${If} $R3 == ""
    ${OrIf} $R3 == "\"
      MessageBox MB_OK|MB_ICONEXCLAMATION "Choose a models folder outside the program folder ($INSTDIR): that folder is replaced on every update."
      Abort ; stays on the page
    ${EndIf}
  ${EndIf}
FunctionEnd

; Adds `models_dir = "<ModelsDir>"` to <data>\settings.toml unless the file already sets models_dir (the user's or an
; earlier install's choice wins). The line is written as UTF-8, as the app reads it; backslashes are escaped for TOML.
Function WriteModelsDirSetting
  Push $R0
  Push $R1
  Push $R2
  Push $R3
  Push $R4
  Push $R5
  Push $R6
  StrCpy $R0 "$DataDir\settings.toml"
  CreateDirectory "$DataDir"
  StrCpy $R5 0 ; 1: the file already sets models_dir
  ${If} ${FileExists} "$R0"
    ClearErrors
    FileOpen $R1 "$R0" r
    ${IfNot} ${Errors}
      ${Do}
        ClearErrors
        FileRead $R1 $R2
        ${If} ${Errors}
          ${Break}
        ${EndIf}
        ; skip leading blanks
        ${Do}
          StrCpy $R3 $R2 1
          ${If} $R3 == " "
          ${OrIf} $R3 == "$\t"
            StrCpy $R2 $R2 "" 1
          ${Else}
            ${Break}
          ${EndIf}
        ${Loop}
        ; a bare or quoted models_dir key, followed by a blank or "=" (TOML keys are case-sensitive: S==)
        StrCpy $R3 $R2 10
        StrCpy $R4 $R2 1 10
        ${If} $R3 S== "models_dir"
        ${AndIf} $R4 != ""
          ${If} $R4 == " "
          ${OrIf} $R4 == "="
          ${OrIf} $R4 == "$\t"
            StrCpy $R5 1
          ${EndIf}
        ${EndIf}
        StrCpy $R3 $R2 12
        ${If} $R3 S== '"models_dir"'
          StrCpy $R5 1
        ${EndIf}
      ${LoopUntil} $R5 == 1
      FileClose $R1
    ${EndIf}
  ${EndIf}

  ${If} $R5 == 1
    DetailPrint "$R0 already sets models_dir; left as it is."
  ${Else}
    ${WordReplace} "$ModelsDir" "\" "\\" "+" $R6
    ClearErrors
    FileOpen $R1 "$R0" a
    ${If} ${Errors}
      DetailPrint "Could not write $R0: set models_dir there to $ModelsDir yourself."
    ${Else}
      ; start on a new line when the file does not end with one
      FileSeek $R1 0 END $R2
      StrCpy $R3 ""
      ${If} $R2 == 0
        StrCpy $R3 "# EdgeMind settings (see the README for every key)$\n"
      ${Else}
        FileSeek $R1 -1 END
        FileReadByte $R1 $R4
        FileSeek $R1 0 END
        ${If} $R4 != 10
          StrCpy $R3 "$\n"
        ${EndIf}
      ${EndIf}
      StrCpy $R3 '$R3models_dir = "$R6"$\n'
      ; UTF-8 bytes of $R3 (FileWrite would write the ANSI code page, which mangles non-ASCII user names)
      System::Call 'kernel32::WideCharToMultiByte(i 65001, i 0, w R3, i -1, p 0, i 0, p 0, p 0) i .R4'
      ${If} $R4 > 1
        System::Alloc $R4
        Pop $R2
        System::Call 'kernel32::WideCharToMultiByte(i 65001, i 0, w R3, i -1, p R2, i R4, p 0, p 0) i .R4'
        IntOp $R4 $R4 - 1 ; without the terminating NUL
        System::Call 'kernel32::WriteFile(p R1, p R2, i R4, *i .R5, p 0) i .R3'
        System::Free $R2
        ${If} $R3 == 0
          DetailPrint "Could not write $R0: set models_dir there to $ModelsDir yourself."
        ${Else}
          DetailPrint "models_dir set to $ModelsDir in $R0"
        ${EndIf}
      ${EndIf}
      FileClose $R1
    ${EndIf}
  ${EndIf}
  Pop $R6
  Pop $R5
  Pop $R4
  Pop $R3
  Pop $R2
  Pop $R1
  Pop $R0
FunctionEnd

; --------------------------------------------------------------------------------------------------- uninstaller
Function un.onInit
  StrCpy $DataDir "$LOCALAPPDATA\EdgeMind"
  ReadRegStr $ModelsDir HKCU "${APP_KEY}" "ModelsDir"
  ${If} $ModelsDir == ""
    StrCpy $ModelsDir "$DataDir\models"
  ${EndIf}
  StrCpy $R9 $ModelsDir
  Call un.StripTrailingSlash
  StrCpy $ModelsDir $R9
  StrCpy $RemoveData 0
  StrCpy $RemoveModels 0
  ${GetParameters} $R0
  ClearErrors
  ${GetOptions} $R0 "/REMOVEDATA" $R1
  ${IfNot} ${Errors}
    StrCpy $RemoveData 1
  ${EndIf}
  ClearErrors
  ${GetOptions} $R0 "/REMOVEMODELS" $R1
  ${IfNot} ${Errors}
    StrCpy $RemoveModels 1
  ${EndIf}
FunctionEnd

Section "Uninstall"
  Call un.EnsureNotRunning

  ; Ask first, remove after: the default answer to both questions is No, and silent mode answers No.
  ${If} $RemoveData == 0
  ${AndIf} ${FileExists} "$DataDir\*.*"
    MessageBox MB_YESNO|MB_ICONQUESTION|MB_DEFBUTTON2 "Also remove your EdgeMind data (conversations, settings, cache and audit log) in$\r$\n$DataDir ?$\r$\n$\r$\nChoose No to keep it for a later install." /SD IDNO IDNO data_asked
    StrCpy $RemoveData 1
    data_asked:
  ${EndIf}
  ${If} $RemoveModels == 0
  ${AndIf} ${FileExists} "$ModelsDir\SHA256SUMS"
    MessageBox MB_YESNO|MB_ICONQUESTION|MB_DEFBUTTON2 "Also remove the models EdgeMind installed in$\r$\n$ModelsDir ?$\r$\n$\r$\nThey are large; a later install copies them again. Other files in that folder are always kept. Choose No to keep them." /SD IDNO IDNO models_asked
    StrCpy $RemoveModels 1
    models_asked:
  ${EndIf}

  ; the program: only what the installer wrote (never RMDir /r $INSTDIR: it may be a folder the user chose)
  RMDir /r "$INSTDIR\_internal"
  Delete "$INSTDIR\${GUI_EXE}"
  Delete "$INSTDIR\${CLI_EXE}"
  Delete "$INSTDIR\${UNINSTALLER}"
  RMDir "$INSTDIR"

  Delete "${STARTMENU_DIR}\EdgeMind.lnk"
  Delete "${STARTMENU_DIR}\Uninstall EdgeMind.lnk"
  RMDir "${STARTMENU_DIR}"
  DeleteRegValue HKCU "${RUN_KEY}" "EdgeMind"
  DeleteRegKey HKCU "${UNINST_KEY}"

  ${If} $RemoveModels == 1
    Call un.RemoveInstalledModels
  ${EndIf}
  ${If} $RemoveData == 1
    ${If} $RemoveModels == 1
      RMDir /r "$DataDir"
    ${Else}
      Call un.RemoveDataKeepingModels
    ${EndIf}
  ${EndIf}

  ; A kept models folder stays recorded, so a later install offers it again.
  ${If} $RemoveModels == 1
  ${OrIfNot} ${FileExists} "$ModelsDir\*.*"
    DeleteRegKey HKCU "${APP_KEY}"
  ${Else}
    DeleteRegValue HKCU "${APP_KEY}" "InstallDir"
    DeleteRegValue HKCU "${APP_KEY}" "Version"
    DetailPrint "Kept the models in $ModelsDir"
  ${EndIf}
SectionEnd

; Deletes the files $ModelsDir\SHA256SUMS lists, then SHA256SUMS, then the folder if that left it empty.
Function un.RemoveInstalledModels
  Push $R0
  Push $R1
  Push $R2
  Push $R3
  ClearErrors
  FileOpen $R0 "$ModelsDir\SHA256SUMS" r
  ${IfNot} ${Errors}
    ${Do}
      ClearErrors
      FileRead $R0 $R1
      ${If} ${Errors}
        ${Break}
      ${EndIf}
      ; "<64 hex digits><space><space or *><name>" ; drop the line end
      StrCpy $R1 $R1 "" 66
      ${Do}
        StrCpy $R2 $R1 1 -1
        ${If} $R2 == "$\n"
        ${OrIf} $R2 == "$\r"
          StrCpy $R1 $R1 -1
        ${Else}
          ${Break}
        ${EndIf}
      ${Loop}
      ${WordReplace} "$R1" "/" "\" "+" $R1
      ; only names inside the folder
      ${WordReplace} "$R1" ".." "" "+" $R3
      ${If} $R3 == $R1
      ${AndIf} $R1 != ""
        StrCpy $R2 $R1 1
        StrCpy $R3 $R1 1 1
        ${If} $R2 != "\"
        ${AndIf} $R3 != ":"
          Delete "$ModelsDir\$R1"
        ${EndIf}
      ${EndIf}
    ${Loop}
    FileClose $R0
    Delete "$ModelsDir\SHA256SUMS"
  ${EndIf}
  RMDir "$ModelsDir"
  ${If} ${FileExists} "$ModelsDir\*.*"
    DetailPrint "Kept $ModelsDir: it holds files EdgeMind did not install."
  ${EndIf}
  Pop $R3
  Pop $R2
  Pop $R1
  Pop $R0
FunctionEnd

; Removes the data folder item by item, keeping the item that is or holds the models folder.
Function un.RemoveDataKeepingModels
  Push $R0
  Push $R1
  Push $R2
  Push $R3
  Push $R4
  FindFirst $R0 $R1 "$DataDir\*"
  ${DoWhile} $R1 != ""
    ${If} $R1 != "."
    ${AndIf} $R1 != ".."
      StrCpy $R2 "$DataDir\$R1"
      StrLen $R3 "$R2\"
      StrCpy $R4 "$ModelsDir\" $R3
      ${If} $R4 == "$R2\"
        DetailPrint "Kept $R2 (models)"
      ${ElseIf} ${FileExists} "$R2\*.*"
        RMDir /r "$R2"
      ${Else}
        Delete "$R2"
      ${EndIf}
    ${EndIf}
    FindNext $R0 $R1
  ${Loop}
  FindClose $R0
  RMDir "$DataDir"
  Pop $R4
  Pop $R3
  Pop $R2
  Pop $R1
  Pop $R0
FunctionEnd
