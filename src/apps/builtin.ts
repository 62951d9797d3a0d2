// The apps every node carries. Each is defined only through the app interface.

import type { AppDefinition } from '../networks/app.ts'
import { chatApp } from './chat/chat.ts'
import { socialApp } from './social/social.ts'
import { creditApp } from './credit/credit.ts'

export const BUILTIN_APPS: AppDefinition[] = [chatApp, socialApp, creditApp]
